import { createFileRoute } from '@tanstack/react-router';
import { lazy, Suspense, useEffect, useState } from 'react';

// The engine lives in the browser (PGlite on IndexedDB): render it on the client only.
const ReviewDemo = lazy(() => import('../demo/ReviewDemo.tsx').then((m) => ({ default: m.ReviewDemo })));

function Home() {
  const [client, setClient] = useState(false);
  useEffect(() => setClient(true), []);
  return client ? (
    <Suspense fallback={<p id="loading">Loading…</p>}>
      <ReviewDemo />
    </Suspense>
  ) : (
    <p id="loading">Loading…</p>
  );
}

export const Route = createFileRoute('/')({ component: Home });
