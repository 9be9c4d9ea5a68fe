import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PGliteDb } from '../db/pglite.ts';
import { ProtocolError, TransportError } from '../protocol/index.ts';
import { foldLog, handlePull, handlePush, localTransport, ServerDatabase } from '../server/index.ts';
import { uniqueSchema } from '../../test/support/stores.ts';
import { PersistentSyncEngine } from './index.ts';
import { expectedVisible } from './simulation.ts';
import type { EntityChange } from './client-database.ts';

let clientDb: PGliteDb;
let serverDb: PGliteDb;
beforeAll(async () => {
  [clientDb, serverDb] = await Promise.all([PGliteDb.open(), PGliteDb.open()]);
});
afterAll(async () => {
  await clientDb.close();
  await serverDb.close();
});

let idSeq = 0;
const ids = { newId: (p: string) => `${p}${++idSeq}` };
const clock = { now: () => 1_000 };

/** A world: one server (own schema on the shared server PGlite) and clients that can go offline. */
async function world() {
  // Each world gets its own server tables: a fresh schema on the shared server PGlite.
  const database = await ServerDatabase.open(serverDb, { clock, schema: uniqueSchema('srv') });
  const handlers = { handlePush: (b: unknown) => handlePush(database, b), handlePull: (b: unknown) => handlePull(database, b) };
  const online = new Map<string, boolean>();
  let pushes = 0;
  async function client(name: string, schemaName = uniqueSchema(`cl_${name}`)) {
    online.set(name, true);
    const transport = localTransport(
      { handlePush: (b) => (pushes++, handlers.handlePush(b)), handlePull: handlers.handlePull },
      { online: () => online.get(name)! },
    );
    const engine = await PersistentSyncEngine.open({ db: clientDb, schema: schemaName, transport, ids, clock });
    return Object.assign(engine, { schemaName, wire: transport });
  }
  const setOnline = (name: string, v: boolean) => online.set(name, v);
  return { database, client, setOnline, pushes: () => pushes, handlers };
}

const settle = async (...engines: PersistentSyncEngine[]) => {
  for (let round = 0; round < 2; round++) for (const e of engines) await e.sync();
};

describe('PersistentSyncEngine', () => {
  it('shows local writes at once and keeps them queued durably until acknowledged', async () => {
    const w = await world();
    const a = await w.client('a');
    await a.upsert('comment', 'c1', { body: 'hi' });
    expect(await a.get('comment', 'c1')).toEqual({ body: 'hi' });
    expect((await a.getState()).pendingCount).toBe(1);
    // A restart (new engine over the same schema) finds the queue and the identity intact.
    const again = await PersistentSyncEngine.open({ db: clientDb, schema: a.schemaName, transport: a.wire, ids, clock });
    expect(again.clientID).toBe(a.clientID);
    expect((await again.pendingMutations()).map((m) => [m.id, m.name])).toEqual([[1, 'upsert']]);
    await again.sync();
    expect((await again.getState()).pendingCount).toBe(0);
    expect(await w.database.readEntities()).toEqual(new Map([['comment/c1', { body: 'hi' }]]));
  });

  it('keeps pending local edits on pull (rebase) and drops the acknowledged ones', async () => {
    const w = await world();
    const [a, b] = [await w.client('a'), await w.client('b')];
    await a.upsert('review', 'r1', { title: 'x', votes: 0 });
    await a.sync();
    await b.sync();
    await b.increment('review', 'r1', 'votes', 1); // acknowledged below
    await b.push();
    w.setOnline('b', false);
    await b.upsert('comment', 'mine', { body: 'pending' }); // stays pending: b is offline for push
    await a.increment('review', 'r1', 'votes', 10);
    await a.sync();
    w.setOnline('b', true);
    expect(await b.pull()).toBe(true);
    const pending = await b.pendingMutations();
    expect(pending.map((m) => m.name)).toEqual(['upsert']);
    expect((await b.getState()).lastMutationID).toBe(1);
    // Server state (votes 11, including b's acknowledged +1 exactly once) with the pending comment on top.
    expect(await b.get('review', 'r1')).toEqual({ title: 'x', votes: 11 });
    expect(await b.get('comment', 'mine')).toEqual({ body: 'pending' });
    expect(await expectedVisible(b.store)).toEqual(await b.visibleEntities());
    await b.sync();
    await a.sync();
    expect(await a.visibleEntities()).toEqual(await w.database.readEntities());
    expect(await b.visibleEntities()).toEqual(await w.database.readEntities());
  });

  it('counts increments that two offline clients made on the same field', async () => {
    const w = await world();
    const [a, b] = [await w.client('a'), await w.client('b')];
    w.setOnline('a', false);
    w.setOnline('b', false);
    await a.increment('review', 'r1', 'votes', 1);
    await b.increment('review', 'r1', 'votes', 1);
    expect(await a.get('review', 'r1')).toEqual({ votes: 1 });
    w.setOnline('a', true);
    w.setOnline('b', true);
    await settle(a, b);
    expect(await a.get('review', 'r1')).toEqual({ votes: 2 });
    expect(await b.get('review', 'r1')).toEqual({ votes: 2 });
  });

  it('deletes and re-creates across clients', async () => {
    const w = await world();
    const [a, b] = [await w.client('a'), await w.client('b')];
    await a.upsert('comment', 'c', { v: 1 });
    await settle(a, b);
    await b.delete('comment', 'c');
    await settle(b, a);
    expect(await a.get('comment', 'c')).toBeUndefined();
    await a.upsert('comment', 'c', { v: 2 });
    await settle(a, b);
    expect(await b.get('comment', 'c')).toEqual({ v: 2 });
  });

  it('rejects a local write whose mutator fails, queuing nothing', async () => {
    const w = await world();
    const a = await w.client('a');
    await expect(a.mutate('increment', { type: 'review', id: 'r', field: 'f', by: 'x' })).rejects.toThrow(/invalid args/);
    await expect(a.mutate('nope', {})).rejects.toThrow(/unknown mutator/);
    await a.upsert('review', 'r', { f: 'text' });
    await expect(a.increment('review', 'r', 'f', 1)).rejects.toThrow(/not a number/);
    expect((await a.pendingMutations()).map((m) => m.id)).toEqual([1]);
  });

  it('queries with type, where, orderBy and limit in SQL', async () => {
    const w = await world();
    const a = await w.client('a');
    for (const [id, author, n] of [['1', 'ann', 3], ['2', 'bob', 1], ['3', 'ann', 2]] as const) await a.upsert('comment', id, { author, n });
    await a.upsert('review', 'r', { author: 'ann' });
    const rows = await a.query({ type: 'comment', where: { author: 'ann' }, orderBy: { field: 'n', direction: 'desc' } });
    expect(rows.map((r) => r.id)).toEqual(['1', '3']);
    expect((await a.query({ type: 'comment', orderBy: { field: 'n' }, limit: 2 })).map((r) => r.id)).toEqual(['2', '3']);
    expect((await a.query({ where: { author: 'ann' } })).map((r) => r.key)).toEqual(['comment/1', 'comment/3', 'review/r']);
    await expect(a.query({ limit: -1 })).rejects.toThrow(/limit/);
  });

  it('notifies subscribers of entity and state changes until they unsubscribe', async () => {
    const w = await world();
    const [a, b] = [await w.client('a'), await w.client('b')];
    const seen: EntityChange[] = [];
    const states: number[] = [];
    const offEntity = b.onEntityChange((c) => seen.push(c));
    const offState = b.onStateChange((s) => states.push(s.pendingCount));
    await a.upsert('comment', 'x', { v: 1 });
    await a.sync();
    await b.pull();
    expect(seen).toEqual([{ key: 'comment/x', type: 'comment', id: 'x', data: { v: 1 } }]);
    await b.upsert('comment', 'y', { v: 2 });
    expect(states.at(-1)).toBe(1);
    offEntity();
    offState();
    await b.delete('comment', 'x');
    expect(seen).toHaveLength(2);
  });

  it('reports sync errors to onSyncError and recovers with the background loop', async () => {
    const w = await world();
    const a = await w.client('a');
    const errors: Error[] = [];
    a.onSyncError((e) => errors.push(e));
    w.setOnline('a', false);
    await a.upsert('comment', 'z', { v: 1 });
    a.start({ intervalMs: 20, backoffBaseMs: 10, backoffMaxMs: 40, pokeDelayMs: 1 });
    await new Promise((r) => setTimeout(r, 100));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toBeInstanceOf(TransportError);
    w.setOnline('a', true);
    for (let i = 0; i < 100 && (await a.getState()).pendingCount > 0; i++) await new Promise((r) => setTimeout(r, 20));
    await a.stop();
    expect((await a.getState()).pendingCount).toBe(0);
    expect((await w.database.readEntities()).get('comment/z')).toEqual({ v: 1 });
  });

  it('starts over from a full snapshot after ClientStateNotFound, keeping pending mutations', async () => {
    const w = await world();
    const a = await w.client('a');
    await a.upsert('comment', 'k', { v: 1 });
    await a.sync();
    await a.store.db.query(`UPDATE "${a.schemaName}".meta SET cookie = 999`);
    await a.upsert('comment', 'p', { v: 2 });
    await expect(a.pull()).rejects.toBeInstanceOf(ProtocolError);
    await a.sync();
    expect(await a.visibleEntities()).toEqual(new Map([['comment/k', { v: 1 }], ['comment/p', { v: 2 }]]));
    expect((await a.getState()).cookie).toBe(await w.database.version());
  });

  it('converges three clients with offline periods to the server, which equals a fold of its log', async () => {
    const w = await world();
    const names = ['a', 'b', 'c'];
    const cs = [];
    for (const n of names) cs.push(await w.client(n));
    // A fixed, varied script: each round some clients are offline, each client writes, online ones sync.
    for (let round = 0; round < 6; round++) {
      for (const [i, c] of cs.entries()) {
        const name = names[i]!;
        w.setOnline(name, (round + i) % 3 !== 0);
        const key = `k${(round * 7 + i) % 4}`;
        if ((round + i) % 4 === 0) await c.delete('comment', key);
        else if ((round + i) % 4 === 1) await c.increment('review', 'r', 'votes', i + 1);
        else await c.upsert('comment', key, { by: name, round });
        await c.sync().catch((e) => {
          if (!(e instanceof TransportError)) throw e;
        });
      }
    }
    for (const n of names) w.setOnline(n, true);
    await settle(...cs);
    const server = await w.database.readEntities();
    expect(foldLog(await w.database.readLog())).toEqual(server);
    for (const c of cs) expect(await c.visibleEntities()).toEqual(server);
    expect(server.get('review/r')?.votes).toBeGreaterThan(0);
  });
});
