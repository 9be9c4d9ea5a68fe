import { createFileRoute } from '@tanstack/react-router';
import { getSyncApi } from '../../../server/http/service.ts';

export const Route = createFileRoute('/api/register')({
  server: { handlers: { POST: async ({ request }) => (await getSyncApi()).register(request) } },
});
