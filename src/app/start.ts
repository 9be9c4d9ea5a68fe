import { createCsrfMiddleware, createMiddleware, createStart } from '@tanstack/react-start';

/**
 * Server function requests are checked before Start reads and deserialises their body: every
 * POST server function here is a sync call (pushChanges, pullChanges), so it must declare a
 * Content-Length within the body limit and carry a known bearer token, within its rate limit.
 * (Without this, a 20 MB body with a bogus token was parsed before the 401.)
 */
const syncGuard = createMiddleware().server(async ({ next, request, handlerType }) => {
  if (handlerType !== 'serverFn' || request.method !== 'POST') return next();
  const { getSyncApi } = await import('../server/http/service.ts');
  const refused = await (await getSyncApi()).guardServerFn(request);
  if (refused) return refused;
  return next();
});

// A start instance replaces Start's default request middleware, so the CSRF check is listed again.
export const startInstance = createStart(() => ({
  requestMiddleware: [createCsrfMiddleware({ filter: (ctx) => ctx.handlerType === 'serverFn' }), syncGuard],
}));
