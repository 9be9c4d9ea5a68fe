/**
 * The server side of bench/catch-up.ts, in its own process as in production: one PGlite sync
 * server behind srvx (SyncApi's push, pull and register), and a second SyncApi over the same
 * database with the old page settings (pageSize 5,000, pageBytes 4 MiB) on another port.
 * POST /seed?upTo=N writes upserts up to entity N (setup, not measured). Prints its URLs as JSON.
 */
import { serve } from 'srvx';
import { SyncApi } from '../src/server/http/api.ts';
import { AuthStore } from '../src/server/http/auth.ts';
import { createSyncServer, type SyncServer } from '../src/server/index.ts';
import { cryptoIds } from '../src/seams/index.ts';

const generous = { syncBurst: 1_000_000, syncPerSecond: 1_000_000, registerBurst: 1_000_000, registerPerSecond: 1_000_000 };
const main = await createSyncServer();
const old = await createSyncServer({ db: main.db, pageSize: 5000, pageBytes: 4 * 1024 * 1024 });

let writerNext = 1;
async function seed(upTo: number) {
  while (writerNext <= upTo) {
    const n = Math.min(500, upTo - writerNext + 1);
    const mutations = Array.from({ length: n }, (_, i) => {
      const k = writerNext + i;
      return { clientID: 'writer', id: k, name: 'upsert', timestamp: k, args: { type: 'item', id: `i${String(k).padStart(6, '0')}`, data: { n: k, title: `item ${k}`, body: 'a comment of a few words, as a review tool has' } } };
    });
    await main.database.push({ pushVersion: 1, clientGroupID: 'gw', profileID: 'p', schemaVersion: '1', mutations });
    writerNext += n;
  }
}

async function listen(server: SyncServer) {
  const api = new SyncApi(server, await AuthStore.open(server.db, cryptoIds), { limits: generous });
  const http = serve({
    port: 0, hostname: '127.0.0.1', silent: true, gracefulShutdown: false,
    // An idle keep-alive socket closed by the server (Node's 5 s default) fails the client's next request under load.
    node: { keepAliveTimeout: 10 * 60_000 },
    fetch: async (req) => {
      const url = new URL(req.url);
      if (url.pathname === '/api/register') return api.register(req);
      if (url.pathname === '/api/replicache/push') return api.push(req);
      if (url.pathname === '/api/replicache/pull') return api.pull(req);
      if (url.pathname === '/seed') {
        await seed(Number(url.searchParams.get('upTo')));
        return Response.json({ version: await server.database.version(), rss: process.memoryUsage().rss });
      }
      if (url.pathname === '/rss') return Response.json({ rss: process.memoryUsage().rss });
      // The server process's CPU seconds so far: the bench takes the difference over a catch-up.
      if (url.pathname === '/cpu') {
        const c = process.cpuUsage();
        return Response.json({ seconds: (c.user + c.system) / 1e6 });
      }
      return new Response('not found', { status: 404 });
    },
  });
  await http.ready();
  return http.url!.replace(/\/$/, '');
}

console.log(JSON.stringify({ now: await listen(main), before: await listen(old) }));
