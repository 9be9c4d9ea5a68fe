import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PGliteDb } from '../db/pglite.ts';
import { createRegistry, defineMutator, deleteArgsSchema } from '../protocol/index.ts';
import { uniqueSchema } from '../../test/support/stores.ts';
import { ClientDatabase } from './client-database.ts';

let db: PGliteDb;
beforeAll(async () => {
  db = await PGliteDb.open();
});
afterAll(async () => {
  await db.close();
});

const registry = createRegistry({
  /** Deletes one entity and writes another in one mutation. */
  move: defineMutator(deleteArgsSchema, async (tx, a) => {
    const doc = (await tx.get(a.type, a.id)) ?? {};
    tx.del(a.type, a.id);
    tx.put(a.type, `${a.id}-moved`, doc);
  }),
});

async function open(schema: string, clientID = 'c1') {
  const store = new ClientDatabase(db, schema, registry);
  await store.open(() => ({ clientID, clientGroupID: 'g1' }));
  return store;
}

describe('ClientDatabase local writes (one statement each)', () => {
  it('queue the mutation, advance the id and apply puts and deletes of one mutation to the visible state', async () => {
    const store = await open(uniqueSchema('w'));
    await store.mutate('upsert', { type: 'doc', id: 'a', data: { n: 1 } }, 1);
    const { mutation, changes } = await store.mutate('move', { type: 'doc', id: 'a' }, 2);
    expect(mutation).toMatchObject({ clientID: 'c1', id: 2, name: 'move' });
    expect(changes.map((c) => [c.key, c.data])).toEqual([['doc/a', undefined], ['doc/a-moved', { n: 1 }]]);
    expect([...(await store.visibleMap())]).toEqual([['doc/a-moved', { n: 1 }]]);
    expect((await store.pendingMutations()).map((m) => [m.clientID, m.id, m.name])).toEqual([['c1', 1, 'upsert'], ['c1', 2, 'move']]);
    expect((await store.readMeta())!.nextMutationID).toBe(3);
  });

  it('a failing mutator writes nothing and the next write takes the next id', async () => {
    const store = await open(uniqueSchema('w'));
    await store.mutate('upsert', { type: 'doc', id: 'a', data: { n: 'text' } }, 1);
    await expect(store.mutate('increment', { type: 'doc', id: 'a', field: 'n', by: 1 }, 2)).rejects.toThrow(/not a number/);
    expect((await store.mutate('upsert', { type: 'doc', id: 'b', data: {} }, 3)).mutation.id).toBe(2);
    expect((await store.pendingMutations()).map((m) => m.id)).toEqual([1, 2]);
  });

  it('two instances on one schema interleave their writes without reusing an id (the remembered next id is checked)', async () => {
    const schema = uniqueSchema('w');
    const a = await open(schema);
    const b = await open(schema);
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await a.mutate('increment', { type: 'doc', id: 'x', field: 'n', by: 1 }, i)).mutation.id);
      ids.push((await b.mutate('increment', { type: 'doc', id: 'x', field: 'n', by: 1 }, i)).mutation.id);
    }
    expect(ids).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await a.visibleMap()).get('doc/x')).toEqual({ n: 6 });
  });

  it('after an identity reset the next write is under the new client id and its renumbered next id', async () => {
    const store = await open(uniqueSchema('w'));
    await store.mutate('upsert', { type: 'doc', id: 'a', data: {} }, 1);
    await store.mutate('upsert', { type: 'doc', id: 'b', data: {} }, 2);
    await store.resetIdentity('c2');
    const { mutation } = await store.mutate('upsert', { type: 'doc', id: 'c', data: {} }, 3);
    expect([mutation.clientID, mutation.id]).toEqual(['c2', 3]);
    expect((await store.pendingMutations()).map((m) => [m.clientID, m.id])).toEqual([['c2', 1], ['c2', 2], ['c2', 3]]);
  });
});
