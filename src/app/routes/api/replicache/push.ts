import { createFileRoute } from '@tanstack/react-router';
import { getSyncApi } from '../../../../server/http/service.ts';

/** Replicache push v1 as plain JSON, for stock Replicache clients and the demo's fetch transport. */
export const Route = createFileRoute('/api/replicache/push')({
  server: { handlers: { POST: async ({ request }) => (await getSyncApi()).push(request) } },
});
