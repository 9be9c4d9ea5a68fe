import { createFileRoute } from '@tanstack/react-router';
import { getSyncApi } from '../../../server/http/service.ts';

export const Route = createFileRoute('/api/poke')({
  server: { handlers: { GET: async ({ request }) => (await getSyncApi()).poke(request) } },
});
