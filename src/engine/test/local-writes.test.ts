/**
 * The engine's local writes: in call order even when issued together (each waits for the one
 * before on the Timer seam, so a simulator's scheduler sees the wait), one statement each when
 * the documents its mutator reads are in the document cache, and correct when they are not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realTimer, type Timer } from '../../seams/index.ts';
import { PersistentSyncEngine } from '../persistent-sync-engine.ts';
import { uniqueSchema } from '../../../test/support/stores.ts';
import { clock, countingDb, ids, openClient, openDbs, openServer, switchableTransport } from './world.ts';

let dbs: Awaited<ReturnType<typeof openDbs>>;
beforeAll(async () => {
  dbs = await openDbs();
});
afterAll(async () => dbs.close());

describe('local writes', () => {
  it('issued together, take ids in call order, each waiting for the one before on the Timer seam', async () => {
    const server = await openServer(dbs.serverDb);
    let waits = 0;
    const timer: Timer = { sleep: (ms, signal) => (waits++, realTimer.sleep(ms, signal)) };
    const engine = await openClient(dbs.clientDb, switchableTransport(() => server), { timer });
    const calls = Array.from({ length: 12 }, (_, i) =>
      i % 3 === 1 ? engine.increment('doc', 'c', 'n', 1) : i % 3 === 2 ? engine.delete('doc', `d${i - 2}`) : engine.upsert('doc', `d${i}`, { i }),
    );
    const done = await Promise.all(calls);
    expect(done.map((m) => m.id)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(waits).toBe(11);
    expect((await engine.pendingMutations()).map((m) => m.name)).toEqual(done.map((m) => m.name));
    expect([...(await engine.visibleEntities())]).toEqual([['doc/c', { n: 4 }]]);
  });

  it('a failing write does not hold up the ones after it', async () => {
    const server = await openServer(dbs.serverDb);
    const engine = await openClient(dbs.clientDb, switchableTransport(() => server));
    await engine.upsert('doc', 'a', { n: 'text' });
    const [bad, good] = await Promise.allSettled([engine.increment('doc', 'a', 'n', 1), engine.upsert('doc', 'b', {})]);
    expect(bad.status).toBe('rejected');
    expect(good.status === 'fulfilled' && good.value.id).toBe(2);
  });

  it('take one statement each when the documents their mutators read are cached, and read again when the cache is off', async () => {
    const server = await openServer(dbs.serverDb);
    for (const [entries, perIncrement] of [[1000, 1], [0, 2]] as const) {
      const { db, n } = countingDb(dbs.clientDb);
      const engine = await PersistentSyncEngine.open({ db, schema: uniqueSchema('cache'), transport: switchableTransport(() => server), ids, clock, documentCacheEntries: entries });
      await engine.increment('doc', 'x', 'n', 1);
      const before = n.statements;
      for (let i = 0; i < 5; i++) await engine.increment('doc', 'x', 'n', 1);
      expect((n.statements - before) / 5).toBe(perIncrement);
      expect(await engine.get('doc', 'x')).toEqual({ n: 6 });
    }
  });

  it('a pulled change to a cached document is what the next write builds on', async () => {
    const server = await openServer(dbs.serverDb);
    const transport = switchableTransport(() => server);
    const a = await openClient(dbs.clientDb, transport, { clientGroupID: 'g-shared' });
    const b = await openClient(dbs.clientDb, transport, { clientGroupID: 'g-shared' });
    await a.increment('doc', 'x', 'n', 1);
    await a.sync();
    await b.sync();
    await b.increment('doc', 'x', 'n', 10);
    await b.sync();
    await a.sync();
    await a.increment('doc', 'x', 'n', 100);
    expect(await a.get('doc', 'x')).toEqual({ n: 111 });
    await a.sync();
    await b.sync();
    expect(await b.get('doc', 'x')).toEqual({ n: 111 });
  });

  it('refuses a negative documentCacheEntries with a clear error', async () => {
    const server = await openServer(dbs.serverDb);
    await expect(openClient(dbs.clientDb, switchableTransport(() => server), { documentCacheEntries: -1 })).rejects.toThrow(/documentCacheEntries/);
  });
});
