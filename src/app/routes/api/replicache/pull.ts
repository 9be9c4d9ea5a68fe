import { createFileRoute } from '@tanstack/react-router';
import { getSyncApi } from '../../../../server/http/service.ts';

export const Route = createFileRoute('/api/replicache/pull')({
  server: { handlers: { POST: async ({ request }) => (await getSyncApi()).pull(request) } },
});
