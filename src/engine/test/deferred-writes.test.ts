/**
 * The deferred durability mode: mutate resolves from memory, writes are stored one statement per
 * flush (timer, push, pull, close, flush()), reads see own writes, push sends only stored
 * mutations, a stale flush reruns its writes against the stored state, and a crash loses exactly
 * the unflushed writes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PushRequest } from '../../protocol/index.ts';
import type { Timer } from '../../seams/index.ts';
import { crashEngine } from '../simulation.ts';
import { PersistentSyncEngine } from '../persistent-sync-engine.ts';
import { clock, countingDb, ids, openClient, openDbs, openServer, switchableTransport } from './world.ts';

let dbs: Awaited<ReturnType<typeof openDbs>>;
beforeAll(async () => {
  dbs = await openDbs();
});
afterAll(async () => dbs.close());

/** A Timer whose waits end only when the test says (the flush timer's), recording each wait's length. */
function manualTimer() {
  const waits: { ms: number; fire: () => void }[] = [];
  const timer: Timer = {
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
        waits.push({ ms, fire: resolve });
      }),
  };
  return { timer, waits };
}

const deferredEngine = async (options: Parameters<typeof openClient>[2] = {}) => {
  const server = await openServer(dbs.serverDb);
  const pushes: PushRequest[] = [];
  const transport = switchableTransport(() => server, { push: (req, send) => (pushes.push(req), send(req)) });
  const { timer, waits } = manualTimer();
  const counted = countingDb(dbs.clientDb);
  const engine = await openClient(counted.db as never, transport, { durability: 'deferred', flushIntervalMs: 40, timer, ...options });
  return { engine, server, pushes, waits, n: counted.n, transport };
};

describe('deferred durability', () => {
  it('resolves from memory, reads see own writes, and stores a burst in one statement when the timer fires', async () => {
    const { engine, waits, n } = await deferredEngine();
    const flushed: number[][] = [];
    engine.onFlushed((w) => flushed.push(w.map((x) => x.mutation.id)));
    const before = n.statements;
    const ms = [];
    for (let i = 0; i < 10; i++) ms.push(await engine.increment('doc', 'c', 'n', 1));
    // Reads: the first write read the document once; the rest came from memory, nothing was stored.
    expect(n.statements - before).toBe(1); // the first write's read of the document
    expect(ms.map((m) => m.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await engine.get('doc', 'c')).toEqual({ n: 10 });
    expect((await engine.getState()).unflushedCount).toBe(10);
    expect(waits.map((w) => w.ms)).toEqual([40]);
    const atFlush = n.statements;
    waits[0]!.fire();
    await engine.flush();
    expect(n.statements - atFlush).toBe(1);
    expect(flushed).toEqual([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]);
    expect((await engine.getState()).unflushedCount).toBe(0);
    expect((await engine.pendingMutations()).length).toBe(10);
    expect(await engine.query({ type: 'doc' })).toEqual([{ key: 'doc/c', type: 'doc', id: 'c', data: { n: 10 } }]);
  });

  it('a flush called while another runs waits for it on the Timer seam (a plain promise across a simulator\'s tasks stalled it)', async () => {
    const { engine, waits } = await deferredEngine();
    await engine.upsert('doc', 'a', { v: 1 });
    await Promise.all([engine.flush(), engine.flush()]);
    expect(waits.map((w) => w.ms)).toEqual([40, 2 ** 31 - 1]);
    expect(await engine.store.pendingCount()).toBe(1);
  });

  it('a flush waiting for the one in progress ends with a wait that fails for another reason than its end (swarm seed 154: a crashed task spun there forever)', async () => {
    const gate = Promise.withResolvers<void>();
    const asked: number[] = [];
    // The simulator's timer: a killed task's every wait rejects at once with its Crash.
    const crashed = new Error('c2 crashed');
    const timer: Timer = {
      sleep: (ms, signal) => {
        asked.push(ms);
        // A spinning caller never yields to the event loop: end the spin here (thrown, not rejected: nothing swallows it).
        if (asked.length > 100) throw new Error('asked 100 times');
        if (signal?.aborted) return Promise.reject(signal.reason);
        return ms === 2 ** 31 - 1 ? Promise.reject(crashed) : new Promise(() => {});
      },
    };
    const { engine } = await deferredEngine({ timer });
    await engine.upsert('doc', 'a', { v: 1 });
    const flushDeferred = engine.store.flushDeferred.bind(engine.store);
    engine.store.flushDeferred = async (batch) => (await gate.promise, flushDeferred(batch));
    const first = engine.flush();
    const second = engine.flush().then(() => 'resolved', (e: unknown) => e);
    // Before the fix the second flush swallowed the error and asked again, in a loop that never let the first flush end.
    await new Promise((r) => setTimeout(r, 20));
    gate.resolve();
    await first;
    expect(await second).toBe(crashed);
    expect(asked.filter((ms) => ms === 2 ** 31 - 1)).toHaveLength(1);
  });

  it('a query flushes first; push sends only stored mutations and flushes before it', async () => {
    const { engine, pushes } = await deferredEngine();
    await engine.upsert('doc', 'a', { v: 1 });
    expect(await engine.query({ type: 'doc' })).toHaveLength(1);
    expect((await engine.getState()).unflushedCount).toBe(0);
    await engine.upsert('doc', 'b', { v: 2 });
    // A query of a type no unflushed write touched runs without a flush.
    expect(await engine.query({ type: 'other' })).toEqual([]);
    expect((await engine.getState()).unflushedCount).toBe(1);
    await engine.sync();
    expect(pushes.flatMap((p) => p.mutations.map((m) => m.id))).toEqual([1, 2]);
    expect((await engine.getState()).pendingCount).toBe(0);
  });

  it('a crash loses exactly the unflushed writes, and the next instance takes their ids again without the server ever seeing them', async () => {
    const { engine, pushes, transport } = await deferredEngine();
    await engine.upsert('doc', 'a', { v: 1 });
    await engine.sync();
    await engine.upsert('doc', 'b', { v: 2 });
    await engine.upsert('doc', 'c', { v: 3 });
    const lost = crashEngine(engine);
    expect(lost.map((m) => m.id)).toEqual([2, 3]);
    // The dead instance writes nothing more (a flush after the crash finds nothing).
    await engine.flush();
    const again = await PersistentSyncEngine.open({ db: dbs.clientDb, schema: engine.store.schema, transport, ids, clock, durability: 'deferred', timer: manualTimer().timer });
    expect(await again.get('doc', 'b')).toBeUndefined();
    const m = await again.upsert('doc', 'd', { v: 4 });
    expect(m.id).toBe(2);
    await again.sync();
    const sent = pushes.flatMap((p) => p.mutations.map((x) => `${x.id}:${(x.args as { id: string }).id}`));
    expect(sent).toEqual(['1:a', '2:d']);
  });

  it('a flush made stale by a pull reruns its writes against the stored state (nothing lost, effects on the fresh document)', async () => {
    const { engine, server } = await deferredEngine();
    await engine.upsert('doc', 'c', { n: 0 });
    await engine.sync();
    // Another client moves the document on the server; this engine's cache and memory do not know.
    const other = await openClient(dbs.clientDb, switchableTransport(() => server));
    await other.pull();
    await other.increment('doc', 'c', 'n', 100);
    await other.sync();
    await engine.increment('doc', 'c', 'n', 1); // reads n = 0 from memory
    // A pull applied behind the deferred writes' back (as a store of another instance would).
    const { meta } = (await engine.store.readMetaAndStage())!;
    const resp = await server.pull({ pullVersion: 1, clientGroupID: engine.clientGroupID, cookie: { order: meta.cookie!, epoch: meta.epoch! }, profileID: 'p', schemaVersion: '1' } as never);
    await engine.store.applyPull(meta.cookie, resp as never, meta.clientID);
    const flushed: { requested: number; stored: number }[] = [];
    engine.onFlushed((w) => flushed.push(...w.map((x) => ({ requested: x.requested.id, stored: x.mutation.id }))));
    await engine.flush();
    expect(flushed).toEqual([{ requested: 2, stored: 2 }]);
    expect(await engine.get('doc', 'c')).toEqual({ n: 101 });
    await engine.sync();
    expect(await engine.get('doc', 'c')).toEqual({ n: 101 });
  });

  it('a write whose mutator fails on the fresh state at its rerun is kept without local effect, and the server decides (nothing silently lost)', async () => {
    const { engine, server } = await deferredEngine();
    await engine.upsert('doc', 'c', { n: 0 });
    await engine.sync();
    const other = await openClient(dbs.clientDb, switchableTransport(() => server));
    await other.pull();
    await other.upsert('doc', 'c', { n: 'text' });
    await other.sync();
    await engine.increment('doc', 'c', 'n', 1); // fine on the n = 0 it read
    const { meta } = (await engine.store.readMetaAndStage())!;
    const resp = await server.pull({ pullVersion: 1, clientGroupID: engine.clientGroupID, cookie: { order: meta.cookie!, epoch: meta.epoch! }, profileID: 'p', schemaVersion: '1' } as never);
    await engine.store.applyPull(meta.cookie, resp as never, meta.clientID);
    const flushed: number[] = [];
    engine.onFlushed((w) => flushed.push(...w.map((x) => x.mutation.id)));
    await engine.flush();
    expect(flushed).toEqual([2]);
    expect((await engine.pendingMutations()).map((m) => m.name)).toEqual(['increment']);
    expect(await engine.get('doc', 'c')).toEqual({ n: 'text' });
    const failures: number[] = [];
    engine.onMutationError((f) => failures.push(f.id));
    await engine.sync();
    expect(failures).toEqual([2]);
  });

  it('waits for a flush at maxUnflushedWrites, flushes on close, and refuses bad limits clearly', async () => {
    const { engine, n } = await deferredEngine({ maxUnflushedWrites: 3 });
    for (let i = 0; i < 3; i++) await engine.upsert('doc', `d${i}`, { i });
    expect((await engine.getState()).unflushedCount).toBe(3);
    const before = n.statements;
    await engine.upsert('doc', 'd3', { i: 3 });
    expect(n.statements - before).toBe(1); // the flush of the first three; the fourth waits in memory
    expect((await engine.getState()).unflushedCount).toBe(1);
    await engine.close();
    expect(await engine.store.pendingCount()).toBe(4);
    await expect(openClient(dbs.clientDb, switchableTransport(() => null as never), { durability: 'deferred', maxUnflushedWrites: 0 })).rejects.toThrow(/maxUnflushedWrites/);
    await expect(openClient(dbs.clientDb, switchableTransport(() => null as never), { flushIntervalMs: -1 })).rejects.toThrow(/flushIntervalMs/);
  });

  it('a flushed batch leaves the same state as the durable mode (writes reading, deleting and re-putting each other)', async () => {
    const ops = (e: PersistentSyncEngine) => [
      () => e.upsert('doc', 'a', { n: 1 }), () => e.increment('doc', 'a', 'n', 2), () => e.delete('doc', 'a'), () => e.increment('doc', 'a', 'n', 5),
      () => e.upsert('doc', 'b', { t: 'x' }), () => e.delete('doc', 'b'), () => e.upsert('doc', 'c', {}), () => e.increment('doc', 'c', 'n', 1),
    ];
    const { engine: deferred } = await deferredEngine();
    const server = await openServer(dbs.serverDb);
    const durable = await openClient(dbs.clientDb, switchableTransport(() => server));
    for (const op of ops(deferred)) await op();
    for (const op of ops(durable)) await op();
    await deferred.flush();
    expect(await deferred.visibleEntities()).toEqual(await durable.visibleEntities());
    expect((await deferred.pendingMutations()).map((m) => [m.id, m.name, m.args])).toEqual((await durable.pendingMutations()).map((m) => [m.id, m.name, m.args]));
    expect([...(await deferred.visibleEntities())]).toEqual([['doc/a', { n: 5 }], ['doc/c', { n: 1 }]]);
  });

  it('a mutator that fails refuses the write and queues nothing, as in the durable mode', async () => {
    const { engine } = await deferredEngine();
    await engine.upsert('doc', 'a', { n: 'text' });
    await expect(engine.increment('doc', 'a', 'n', 1)).rejects.toThrow();
    expect((await engine.getState()).unflushedCount).toBe(1);
    const m = await engine.upsert('doc', 'b', {});
    expect(m.id).toBe(2);
  });
});
