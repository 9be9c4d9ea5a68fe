import { createServerFn } from '@tanstack/react-start';
import { z } from 'zod';

/*
 * TanStack Start server functions: thin wrappers over the same sync server as the JSON routes.
 * The bearer token travels in the Authorization header and is checked, with the body size and
 * the rate limit, by the request middleware in start.ts before the body is read. The validator
 * only checks that the body is an object: the sync server validates each field (and each
 * mutation on its own) and answers a clear 400, which a thrown validator error would hide.
 * The service is imported inside the handlers, so nothing of it reaches the client.
 */
const requestObject = z.record(z.string(), z.unknown());
const service = () => import('../server/http/service.ts');

async function call(body: unknown, kind: 'push' | 'pull'): Promise<{ status: number; body: any }> {
  const { getSyncApi } = await service();
  const { tokenOf } = await import('../server/http/api.ts');
  const { getRequest } = await import('@tanstack/react-start/server');
  const api = await getSyncApi();
  const token = tokenOf(getRequest());
  // The body is JSON the sync server produced; `any` lets Start's serializer types accept it.
  return (await api.withToken(token, body, (b) => (kind === 'push' ? api.server.handlePush(b) : api.server.handlePull(b)))) as { status: number; body: any };
}

export const pushChanges = createServerFn({ method: 'POST' })
  .validator(requestObject)
  .handler(({ data }) => call(data, 'push'));

export const pullChanges = createServerFn({ method: 'POST' })
  .validator(requestObject)
  .handler(({ data }) => call(data, 'pull'));

export const healthCheck = createServerFn({ method: 'GET' }).handler(async () => (await (await service()).getSyncApi()).server.health());
