// Production server: the TanStack Start build (dist/server/server.js) behind srvx on Node,
// static assets from dist/client, on 127.0.0.1:$PORT (default 3000). On SIGTERM/SIGINT it stops
// accepting, drains in-flight requests, then closes the database (a failing close is logged).
import { serve } from 'srvx';
import { staticMiddleware } from 'srvx/static';
import { fileURLToPath } from 'node:url';

globalThis[Symbol.for('lockstep.serve')] = true;
const root = fileURLToPath(new URL('..', import.meta.url));
const { default: app } = await import(`${root}dist/server/server.js`);
const port = Number(process.env.PORT ?? 3000);
// A second, transport-level cap on every body (server functions included), counted while streaming.
const maxBody = Number(process.env.LOCKSTEP_MAX_BODY_BYTES || 1_000_000);
const server = serve({
  port,
  hostname: process.env.HOST ?? '127.0.0.1',
  gracefulShutdown: false,
  maxRequestBodySize: maxBody,
  middleware: [staticMiddleware({ dir: `${root}dist/client` })],
  fetch: (request) => app.fetch(request),
});
await server.ready();
console.log(`lockstep demo on ${server.url}`);

let stopping = false;
const stop = async (signal) => {
  if (stopping) return;
  stopping = true;
  console.log(`lockstep: ${signal}, draining`);
  const hook = globalThis[Symbol.for('lockstep.shutdown')];
  // Requests still open after the drain timeout (a client that never finishes its body) are cut.
  const timeoutMs = Number(process.env.LOCKSTEP_SHUTDOWN_TIMEOUT_MS || 10_000);
  const force = setTimeout(() => {
    console.error(`lockstep: drain took over ${timeoutMs} ms; closing the open connections`);
    void server.close(true).catch(() => {});
  }, timeoutMs);
  force.unref();
  // Keep-alive sockets that go idle during the drain (a browser whose poke stream just ended reuses
  // its socket to reconnect) are closed as they idle: Node closes idle sockets only once, at close().
  const closeIdle = setInterval(() => server.node?.server?.closeIdleConnections?.(), 100);
  const stopAccepting = async () => {
    try {
      await server.close();
    } finally {
      clearInterval(closeIdle);
    }
  };
  try {
    if (hook) await hook(stopAccepting);
    else await stopAccepting();
  } catch (e) {
    console.error(`lockstep: shutdown failed: ${e?.message ?? e}`);
  }
  console.log('lockstep: stopped');
  process.exit(0);
};
process.once('SIGTERM', () => void stop('SIGTERM'));
process.once('SIGINT', () => void stop('SIGINT'));
