import { createFileRoute } from '@tanstack/react-router';
import { getSyncApi } from '../../../server/http/service.ts';

export const Route = createFileRoute('/api/health')({
  server: { handlers: { GET: async () => (await getSyncApi()).health() } },
});
