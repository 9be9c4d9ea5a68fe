import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PGliteDb } from '../db/pglite.ts';
import { z } from 'zod';
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

/** Runs between a mutator's read and its write (a pull committing in between, in a test). */
let betweenReadAndWrite: (() => Promise<void>) | undefined;

const registry = createRegistry({
  /** Adds `by` to doc.n, with a pause after its read. */
  addSlowly: defineMutator(z.object({ id: z.string(), by: z.number() }), async (tx, a) => {
    const doc = (await tx.get('doc', a.id)) ?? {};
    const hook = betweenReadAndWrite;
    betweenReadAndWrite = undefined;
    await hook?.();
    tx.put('doc', a.id, { ...doc, n: ((doc.n as number | undefined) ?? 0) + a.by });
  }),
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

  it('a document read by the mutator that changes before the write is not overwritten with a stale result: the write runs again on the new state', async () => {
    const store = await open(uniqueSchema('w'));
    await store.mutate('upsert', { type: 'doc', id: 'a', data: { n: 1 } }, 1);
    // A commit outside the write (as a pull's apply would) between the mutator's read and its write.
    betweenReadAndWrite = async () => {
      await db.query(`UPDATE ${store.schema}.visible SET data = '{"n": 10}' WHERE key = 'doc/a'`);
    };
    const { mutation, changes } = await store.mutate('addSlowly', { id: 'a', by: 5 }, 2);
    expect(mutation.id).toBe(2);
    expect(changes).toEqual([{ key: 'doc/a', type: 'doc', id: 'a', data: { n: 15 } }]);
    expect((await store.visibleMap()).get('doc/a')).toEqual({ n: 15 });
    expect((await store.pendingMutations()).map((m) => m.id)).toEqual([1, 2]);
  });

  it('a read of an absent document counts too: one created meanwhile is seen by the write', async () => {
    const store = await open(uniqueSchema('w'));
    betweenReadAndWrite = async () => {
      await db.query(`INSERT INTO ${store.schema}.visible (key, type, id, data) VALUES ('doc/b', 'doc', 'b', '{"n": 7, "x": 1}')`);
    };
    await store.mutate('addSlowly', { id: 'b', by: 1 }, 1);
    expect((await store.visibleMap()).get('doc/b')).toEqual({ n: 8, x: 1 });
  });

  it('args and documents with quotes, backslashes and any unicode are stored exactly as given (they travel as SQL literals)', async () => {
    const store = await open(uniqueSchema('w'));
    const data = { q: "it's", qq: "''", bs: 'a\\b\\', both: "\\'\\''", nl: 'line\nbreak\ttab', uni: 'é 日本 🎉', dollar: '$fn$ $$', semi: "'); DROP TABLE x; --" };
    await store.mutate('upsert', { type: 'doc', id: "o'k\\", data }, 1);
    expect((await store.visibleMap()).get("doc/o'k\\")).toEqual(data);
    expect((await store.pendingMutations())[0]!.args).toEqual({ type: 'doc', id: "o'k\\", data });
  });
});
