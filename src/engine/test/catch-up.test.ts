import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db, Queryable } from '../../db/types.ts';
import { foldLog, type ServerDatabase } from '../../server/index.ts';
import type { PersistentSyncEngine } from '../index.ts';
import type { Transport } from '../../seams/index.ts';
import { openClient, openDbs, openServer, switchableTransport } from './world.ts';

let dbs: Awaited<ReturnType<typeof openDbs>>;
beforeAll(async () => {
  dbs = await openDbs();
});
afterAll(async () => dbs.close());

/** A history of 12 versions: creates, updates, increments, deletes and a re-create. */
async function history(server: ServerDatabase): Promise<void> {
  const w = await openClient(dbs.clientDb, switchableTransport(() => server));
  for (let i = 0; i < 4; i++) {
    await w.upsert('comment', `c${i}`, { body: `v${i}` });
    await w.sync();
  }
  await w.increment('review', 'r', 'votes', 1);
  await w.upsert('comment', 'c1', { body: 'edited' });
  await w.delete('comment', 'c0');
  await w.increment('review', 'r', 'votes', 2);
  await w.sync();
  await w.delete('comment', 'c2');
  await w.upsert('comment', 'c0', { body: 'again' });
  await w.increment('review', 'r', 'votes', 3);
  await w.upsert('comment', 'c4', { body: 'last' });
  await w.sync();
}

/**
 * Records, at every pull request after the first, the client's visible state and its cookie:
 * what the client exposed between pages. Each must equal the server's state at that cookie.
 */
function recorder(server: () => ServerDatabase) {
  let client: PersistentSyncEngine | undefined;
  const exposed: { cookie: number; visible: Map<string, unknown> }[] = [];
  const transport = switchableTransport(server, {
    // The state and the cookie it is at, read together: the next page's request goes out before
    // this page is applied (see PersistentSyncEngine.pull), so the request's cookie is ahead.
    pull: async () => {
      const store = client?.store;
      if (!store) return;
      const seen = await store.db.transaction(async (tx) => ({ cookie: (await store.readMeta(tx))!.cookie, visible: await store.visibleMap(tx) }));
      if (seen.cookie !== null) exposed.push({ cookie: seen.cookie, visible: seen.visible });
    },
  });
  return { transport: withPullAhead(transport), exposed, attach: (c: PersistentSyncEngine) => void (client = c) };
}

/** A transport that can send a pull ahead, as fetchTransport does. */
function withPullAhead(t: Transport): Transport {
  return {
    ...t,
    pullAhead(req) {
      const response = t.pull(req);
      response.catch(() => undefined);
      return { response: () => response };
    },
  };
}

describe('multi-page catch-up', () => {
  it('a new client catches up in 3+ pages, each exposed state one the server had', async () => {
    const server = await openServer(dbs.serverDb, { pageSize: 3 });
    await history(server);
    const rec = recorder(() => server);
    const c = await openClient(dbs.clientDb, rec.transport);
    rec.attach(c);
    await c.sync();
    // Recorded at each request after the first; the last page says it is the last (no pull confirms it).
    expect(rec.exposed.length).toBeGreaterThanOrEqual(2);
    const log = await server.readLog();
    for (const { cookie, visible } of rec.exposed) expect(visible).toEqual(foldLog(log.filter((l) => l.version <= cookie)));
    expect(await c.visibleEntities()).toEqual(await server.readEntities());
    expect((await c.getState()).cookie).toBe(await server.version());
  });

  it('a client partway through the history catches up the same way, and maxPages bounds one sync', async () => {
    const server = await openServer(dbs.serverDb, { pageSize: 2 });
    const rec = recorder(() => server);
    const c = await openClient(dbs.clientDb, rec.transport, { maxPages: 2 });
    rec.attach(c);
    await c.sync(); // at version 0
    await history(server);
    await c.sync();
    expect((await c.getState()).cookie).toBe(4); // two pages of two versions
    await c.sync();
    await c.sync();
    await c.sync();
    expect((await c.getState()).cookie).toBe(await server.version());
    const log = await server.readLog();
    expect(rec.exposed.length).toBeGreaterThanOrEqual(6);
    for (const { cookie, visible } of rec.exposed) expect(visible).toEqual(foldLog(log.filter((l) => l.version <= cookie)));
    expect(await c.visibleEntities()).toEqual(await server.readEntities());
  });

  it('asks for the next page while it applies this one, and sends no more requests than pages', async () => {
    const server = await openServer(dbs.serverDb, { pageSize: 2 });
    await history(server);
    const events: string[] = [];
    let sent = 0;
    let applied = 0;
    const c = await openClient(dbs.clientDb, withPullAhead(switchableTransport(() => server, { pull: () => void events.push(`sent ${++sent}`) })));
    const apply = c.store.applyPull.bind(c.store);
    c.store.applyPull = async (...a) => {
      try {
        return await apply(...a);
      } finally {
        events.push(`applied ${++applied}`);
      }
    };
    await c.sync();
    expect(applied).toBeGreaterThanOrEqual(3);
    // Page i+1 was requested before page i was applied; the last request (up to date) needed no page after it.
    for (let i = 1; i < applied; i++) expect(events.indexOf(`sent ${i + 1}`), events.join(', ')).toBeLessThan(events.indexOf(`applied ${i}`));
    // The last page said it was the last: no request after it only to confirm the client is up to date.
    expect(sent).toBe(applied);
    expect(await c.visibleEntities()).toEqual(await server.readEntities());
    // A sync with nothing new: one request, none sent ahead, nothing applied.
    sent = applied = 0;
    await c.sync();
    expect([sent, applied]).toEqual([1, 0]);
  });

  it('a page not applied ends the sync, and the request sent ahead for its successor is not used later', async () => {
    const server = await openServer(dbs.serverDb, { pageSize: 2 });
    await history(server);
    const cookies: unknown[] = [];
    const c = await openClient(dbs.clientDb, withPullAhead(switchableTransport(() => server, { pull: (req) => void cookies.push(req.cookie) })));
    const apply = c.store.applyPull.bind(c.store);
    let calls = 0;
    // The second page's apply finds the stored cookie moved (as after a concurrent pull): not applied.
    c.store.applyPull = async (...a) => (++calls === 2 ? { applied: false, changes: [], droppedPending: 0 } : apply(...a));
    await c.sync();
    // Its successor's answer, asked for ahead, was not used: the next sync asks again from where the client is.
    const at = (await c.getState()).cookie;
    cookies.length = 0;
    await c.sync();
    expect(cookies[0]).toMatchObject({ order: at });
    expect((await c.getState()).cookie).toBe(await server.version());
    expect(await c.visibleEntities()).toEqual(await server.readEntities());
  });

  it('applies a page without reading the whole local state into memory', async () => {
    const server = await openServer(dbs.serverDb);
    const w = await openClient(dbs.clientDb, switchableTransport(() => server));
    for (let i = 0; i < 20; i++) await w.mutate('upsert', { type: 'bulk', id: `b${i}`, data: { i } });
    await w.sync();
    // Counts the rows every statement of the reader's store returns.
    let rows = 0;
    const counting = (q: Queryable): Queryable => ({
      async query<T>(sql: string, params?: unknown[]) {
        const r = await q.query<T>(sql, params);
        rows += r.rows.length;
        return r;
      },
      exec: (sql) => q.exec(sql),
    });
    const db: Db = { ...counting(dbs.clientDb), dialect: dbs.clientDb.dialect, transaction: (fn, o) => dbs.clientDb.transaction((tx) => fn(counting(tx)), o), close: async () => {} };
    const r = await openClient(db as never, switchableTransport(() => server));
    await r.sync();
    await r.upsert('comment', 'pending', { v: 1 });
    await w.upsert('bulk', 'b0', { i: 100 });
    await w.sync();
    rows = 0;
    expect(await r.pull()).toBe(true);
    // One changed key and one pending mutation: a handful of rows, not the 21 entities twice.
    expect(rows).toBeLessThan(10);
    expect(await r.get('bulk', 'b0')).toEqual({ i: 100 });
    expect(await r.get('comment', 'pending')).toEqual({ v: 1 });
  });
});
