/**
 * The push fast path with pre-reads (batch.ts tryFastPush, schema.ts push_fast): a push whose
 * mutators read plans on documents read outside a transaction; push_fast writes only if each is
 * still at the version it was read at, else the push takes the locked path. Every increment
 * counts, exactly once, in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db, Queryable } from '../db/types.ts';
import type { Mutation, PushResponseOK } from '../protocol/index.ts';
import { storeKinds, uniqueSchema } from '../../test/support/stores.ts';
import { handlePush, ServerDatabase } from './index.ts';

const clock = { now: () => 1_700_000_000_000 };
const push = (clientGroupID: string, mutations: Partial<Mutation>[]) => ({
  pushVersion: 1, clientGroupID, profileID: 'p', schemaVersion: '1', mutations: mutations.map((m) => ({ timestamp: 1, args: {}, ...m })),
});
const inc = (clientID: string, id: number, by: number): Partial<Mutation> => ({ clientID, id, name: 'increment', args: { type: 'review', id: 'r1', field: 'votes', by } });

/** A Db that counts transactions and runs `between` once, right after the first pre-read of a document. */
function spying(db: Db) {
  const spy = { transactions: 0, between: undefined as (() => Promise<void>) | undefined };
  const wrap = (q: Queryable): Queryable => ({
    query: async (sql, params) => {
      const r = await q.query(sql, params);
      if (sql.startsWith('SELECT data, version, deleted') && spy.between) {
        const f = spy.between;
        spy.between = undefined;
        await f();
      }
      return r as never;
    },
    exec: (sql) => q.exec(sql),
  });
  const out: Db = {
    dialect: db.dialect, ...wrap(db),
    transaction: (fn, o) => {
      spy.transactions++;
      return db.transaction((tx) => fn(wrap(tx)), o);
    },
    close: () => db.close(),
  };
  return { db: out, spy };
}

for (const kind of storeKinds) {
  describe(`push fast path with pre-reads on ${kind.name}`, () => {
    let db: Db;
    beforeAll(async () => {
      db = await kind.open();
    });
    afterAll(() => db.close());

    it('applies a push of increments without a transaction, and falls back to the locked path when a read went stale', async () => {
      const schema = uniqueSchema('fast');
      const { db: spied, spy } = spying(db);
      const s = await ServerDatabase.open(spied, { clock, schema });
      const other = await ServerDatabase.open(db, { clock, schema });
      // A new client registers on the locked path; then its pushes go without a transaction.
      expect((await handlePush(s, push('g', [inc('a', 1, 1)]))).status).toBe(200);
      spy.transactions = 0;
      expect((await handlePush(s, push('g', [inc('a', 2, 2)]))).status).toBe(200);
      expect(spy.transactions).toBe(0);
      // Another push changes the document between the pre-read and push_fast: the plan is stale.
      spy.between = async () => {
        expect((await handlePush(other, push('h', [inc('b', 1, 100)]))).status).toBe(200);
      };
      const r = await handlePush(s, push('g', [inc('a', 3, 10)]));
      expect(r.status).toBe(200);
      expect((r.body as PushResponseOK).lastMutationIDs).toEqual({ a: 3 });
      expect(spy.transactions).toBe(1);
      expect((await s.readEntities()).get('review/r1')).toEqual({ votes: 113 });
      const log = await s.readLog();
      expect(log.map((e) => [e.clientID, e.mutationID, e.version])).toEqual([['a', 1, 1], ['a', 2, 2], ['b', 1, 3], ['a', 3, 4]]);
      // A retry of what the server has is skipped, fast or not.
      expect(((await handlePush(s, push('g', [inc('a', 3, 10)]))).body as PushResponseOK).lastMutationIDs).toEqual({ a: 3 });
      expect((await s.readEntities()).get('review/r1')).toEqual({ votes: 113 });
    });

    it('writes a single upsert, delete or failure of a known client with push_one, and takes the locked path when the client moved on', async () => {
      const schema = uniqueSchema('one');
      const seen: string[] = [];
      const { db: spied, spy } = spying(db);
      const counting: Db = { ...spied, query: (sql, params) => (seen.push(sql), spied.query(sql, params)) };
      const s = await ServerDatabase.open(counting, { clock, schema });
      const other = await ServerDatabase.open(db, { clock, schema });
      const up = (id: number, v: number): Partial<Mutation> => ({ clientID: 'a', id, name: 'upsert', args: { type: 'doc', id: 'd', data: { v } } });
      expect((await handlePush(s, push('g', [up(1, 1)]))).status).toBe(200); // registers on the locked path
      seen.length = 0;
      spy.transactions = 0;
      await handlePush(s, push('g', [up(2, 2)]));
      await handlePush(s, push('g', [{ clientID: 'a', id: 3, name: 'delete', args: { type: 'doc', id: 'd' } }]));
      const failed = await handlePush(s, push('g', [{ clientID: 'a', id: 4, name: 'increment', args: { type: 'doc', id: 'd', field: 'v', by: 'x' } }]));
      expect((failed.body as PushResponseOK).failed?.map((f) => f.id)).toEqual([4]);
      expect(seen.length).toBe(3);
      expect(seen.every((q) => q.includes('.push_one('))).toBe(true);
      expect(spy.transactions).toBe(0);
      await handlePush(s, push('g', [up(5, 5)]));
      // Another server instance (a second process) applied the client's next mutation: push_one
      // writes nothing and the locked path skips the copy.
      expect((await handlePush(other, push('g', [up(6, 6)]))).status).toBe(200);
      const r = await handlePush(s, push('g', [up(6, 60)]));
      expect((r.body as PushResponseOK).lastMutationIDs).toEqual({ a: 6 });
      expect(spy.transactions).toBe(1);
      expect((await s.readEntities()).get('doc/d')).toEqual({ v: 6 });
      const log = await s.readLog();
      expect(log.map((e) => [e.mutationID, e.version, e.error === null])).toEqual([[1, 1, true], [2, 2, true], [3, 3, true], [4, 4, false], [5, 5, true], [6, 6, true]]);
      expect(log[2]!.effects).toEqual([{ op: 'del', key: 'doc/d' }]);
      expect((await s.readClients())[0]).toMatchObject({ clientID: 'a', lastMutationID: 6, lastModifiedVersion: 6 });
    });

    it('sees a deleted document as absent and a re-created one as changed', async () => {
      const schema = uniqueSchema('fast');
      const { db: spied, spy } = spying(db);
      const s = await ServerDatabase.open(spied, { clock, schema });
      const other = await ServerDatabase.open(db, { clock, schema });
      await handlePush(s, push('g', [inc('a', 1, 5)]));
      await handlePush(s, push('g', [{ clientID: 'a', id: 2, name: 'delete', args: { type: 'review', id: 'r1' } }]));
      // Deleted, then re-created by another push between the pre-read and the write.
      spy.between = async () => {
        await handlePush(other, push('h', [{ clientID: 'b', id: 1, name: 'upsert', args: { type: 'review', id: 'r1', data: { votes: 40 } } }]));
      };
      await handlePush(s, push('g', [inc('a', 3, 2)]));
      expect((await s.readEntities()).get('review/r1')).toEqual({ votes: 42 });
    });
  });
}
