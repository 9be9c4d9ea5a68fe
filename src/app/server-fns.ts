import { createServerFn } from '@tanstack/react-start';
import { z } from 'zod';
import { pullRequestSchema, pushRequestSchema } from '../protocol/index.ts';

/*
 * TanStack Start server functions: thin, validated wrappers over the same sync server as the
 * JSON routes. The service is imported inside the handlers, so nothing of it reaches the client.
 */
const withToken = <T extends z.ZodType>(schema: T) => z.object({ token: z.string().min(1), request: schema });
const service = () => import('../server/http/service.ts').then((m) => m.getSyncApi());

export const pushChanges = createServerFn({ method: 'POST' })
  .validator(withToken(pushRequestSchema))
  .handler(async ({ data }) => {
    const api = await service();
    // The body is JSON the sync server produced; `any` lets Start's serializer types accept it.
    return (await api.withToken(data.token, data.request, (b) => api.server.handlePush(b))) as { status: number; body: any };
  });

export const pullChanges = createServerFn({ method: 'POST' })
  .validator(withToken(pullRequestSchema))
  .handler(async ({ data }) => {
    const api = await service();
    return (await api.withToken(data.token, data.request, (b) => api.server.handlePull(b))) as { status: number; body: any };
  });

export const healthCheck = createServerFn({ method: 'GET' }).handler(async () => (await service()).server.health());
