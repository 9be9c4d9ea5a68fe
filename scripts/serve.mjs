// Production server: the TanStack Start build (dist/server/server.js) behind srvx on Node,
// static assets from dist/client, on 127.0.0.1:$PORT (default 3000).
import { serve } from 'srvx';
import { staticMiddleware } from 'srvx/static';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { default: app } = await import(`${root}dist/server/server.js`);
const port = Number(process.env.PORT ?? 3000);
const server = serve({
  port,
  hostname: process.env.HOST ?? '127.0.0.1',
  middleware: [staticMiddleware({ dir: `${root}dist/client` })],
  fetch: (request) => app.fetch(request),
});
await server.ready();
console.log(`lockstep demo on ${server.url}`);
