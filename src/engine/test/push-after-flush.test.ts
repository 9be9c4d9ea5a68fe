/**
 * Deferred mode: a push sends what the flush before it just stored without reading the pending
 * queue back, when it knows that queue (a push's read found all of it, and every change since was
 * a flush of the next ids). Batches, a server that holds less than was sent (its work budget), a
 * durable write in between (adopt), a restart and args the app changes after mutate all keep
 * what is sent equal to what is stored. Pending reads counted at the Db seam.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PushRequest } from '../../protocol/index.ts';
import { uniqueSchema } from '../../../test/support/stores.ts';
import { ServerDatabase } from '../../server/index.ts';
import { clock, countingDb, ids, openClient, openDbs, switchableTransport } from './world.ts';

let dbs: Awaited<ReturnType<typeof openDbs>>;
beforeAll(async () => {
  dbs = await openDbs();
});
afterAll(async () => dbs.close());

const pendingReads = (log: string[]) => log.filter((s) => /FROM "[^"]+"\.pending p/.test(s) && !s.startsWith('BEGIN')).length;

async function world(serverLimits: { maxMutationsPerPush?: number } = {}, pushBatchSize?: number) {
  const server = await ServerDatabase.open(dbs.serverDb, { clock, ids, schema: uniqueSchema('paf'), limits: serverLimits });
  const pushes: PushRequest[] = [];
  const transport = switchableTransport(() => server, { push: (req, send) => (pushes.push(structuredClone(req)), send(req)) });
  const counted = countingDb(dbs.clientDb);
  const schema = uniqueSchema('paf');
  const engine = await openClient(counted.db as never, transport, { schema, durability: 'deferred', ...(pushBatchSize ? { pushBatchSize } : {}) });
  return { server, engine, pushes, n: counted.n, transport, schema };
}

/** Only push's reads: the pull's rebase reads pending rows inside its transaction (after a BEGIN). */
function pushReads(log: string[]): number {
  let inTx = false;
  let reads = 0;
  for (const s of log) {
    if (s === 'BEGIN') inTx = true;
    else if (/^COMMIT|^ROLLBACK/.test(s)) inTx = false;
    if (!inTx && /FROM "[^"]+"\.pending p/.test(s)) reads++;
  }
  return reads;
}

describe('a deferred push after a flush', () => {
  it('sends the flushed writes without reading them back, in batches, and the server gets what is stored', async () => {
    const { server, engine, pushes, n } = await world({}, 4);
    await engine.sync(); // a new instance reads once: the queue is empty
    n.on = true;
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 10; i++) await engine.increment('doc', `d${i % 3}`, 'n', 1);
      await engine.sync();
    }
    n.on = false;
    // Each push's request was built from memory, none from a read (the pull's rebase reads in its transaction).
    expect(pushReads(n.log), n.log.join('\n')).toBe(0);
    expect(pendingReads(n.log)).toBeGreaterThan(0);
    expect(pushes.map((p) => p.mutations.map((m) => m.id))).toEqual([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10], [11, 12, 13, 14], [15, 16, 17, 18], [19, 20]]);
    expect((await engine.getState()).pendingCount).toBe(0);
    expect(Object.fromEntries([...(await server.readEntities())])).toEqual({ 'doc/d0': { n: 8 }, 'doc/d1': { n: 6 }, 'doc/d2': { n: 6 } });
    await engine.close();
  });

  it('resends what a server cut short, and reads again after a durable write or a restart', async () => {
    const { server, engine, pushes, n, transport, schema } = await world({ maxMutationsPerPush: 3 });
    await engine.sync();
    for (let i = 0; i < 7; i++) await engine.upsert('doc', `a${i}`, { i });
    n.on = true;
    await engine.sync();
    expect(pushReads(n.log)).toBe(0);
    // The server applied 3 of each push: the rest went again, from the list.
    expect(pushes.slice(-3).map((p) => p.mutations.map((m) => m.id))).toEqual([[1, 2, 3, 4, 5, 6, 7], [4, 5, 6, 7], [7]]);
    // A durable write (adopt) changes the queue outside a flush: the next push reads.
    n.log.length = 0;
    await engine.upsert('doc', 'b', { v: 1 });
    await engine.adopt({ clientID: 'elsewhere', id: 1, name: 'upsert', args: { type: 'doc', id: 'adopted', data: { v: 2 } }, timestamp: 1 });
    await engine.sync();
    expect(pushReads(n.log)).toBe(1);
    n.on = false;
    await engine.close();
    // A restart over the same store reads once, then follows its flushes again.
    const again = countingDb(dbs.clientDb);
    const b = await openClient(again.db as never, transport, { schema, durability: 'deferred' });
    again.n.on = true;
    await b.upsert('doc', 'c', { v: 3 });
    await b.sync();
    await b.upsert('doc', 'd', { v: 4 });
    await b.sync();
    expect(pushReads(again.n.log)).toBe(1);
    const entities = await server.readEntities();
    expect([...entities.keys()].sort()).toEqual(['doc/a0', 'doc/a1', 'doc/a2', 'doc/a3', 'doc/a4', 'doc/a5', 'doc/a6', 'doc/adopted', 'doc/b', 'doc/c', 'doc/d']);
    expect(await b.visibleEntities()).toEqual(entities);
    await b.close();
  });

  it('sends the args as stored, even when the app changes the object it passed to mutate after the flush', async () => {
    const { server, engine, pushes } = await world();
    await engine.sync();
    const data = { v: 1 };
    await engine.upsert('doc', 'x', data);
    await engine.flush();
    data.v = 99; // the app reuses its object
    await engine.sync();
    expect(pushes.at(-1)!.mutations[0]!.args).toEqual({ type: 'doc', id: 'x', data: { v: 1 } });
    expect((await server.readEntities()).get('doc/x')).toEqual({ v: 1 });
    await engine.close();
  });
});
