import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db, Queryable } from '../../db/types.ts';
import { foldLog, type ServerDatabase } from '../../server/index.ts';
import type { PersistentSyncEngine } from '../index.ts';
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
    pull: async (req) => {
      if (client && req.cookie !== null && typeof req.cookie === 'object') exposed.push({ cookie: req.cookie.order, visible: await client.visibleEntities() });
    },
  });
  return { transport, exposed, attach: (c: PersistentSyncEngine) => void (client = c) };
}

describe('multi-page catch-up', () => {
  it('a new client catches up in 3+ pages, each exposed state one the server had', async () => {
    const server = await openServer(dbs.serverDb, { pageSize: 3 });
    await history(server);
    const rec = recorder(() => server);
    const c = await openClient(dbs.clientDb, rec.transport);
    rec.attach(c);
    await c.sync();
    expect(rec.exposed.length).toBeGreaterThanOrEqual(3);
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
