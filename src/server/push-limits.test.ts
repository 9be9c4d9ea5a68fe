/**
 * Issue 10 on the server: per-mutation validation (a bad mutation is recorded as failed and
 * never wedges its client), storage loss and restore (ClientStateNotFound), bounded work
 * (document cap, per-push budget, pull pages bounded by bytes and ending at commit boundaries).
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Db, Queryable } from '../db/types.ts';
import { defineMutator, type Mutation, type PatchOp, type PullResponseOK, type PushResponseOK } from '../protocol/index.ts';
import { storeKinds, useStore } from '../../test/support/stores.ts';
import { foldLog, handlePull, handlePush, ServerDatabase, type ServerLimits } from './index.ts';

const clock = { now: () => 1_700_000_000_000 };
const explode = defineMutator(z.object({}), async () => {
  throw new Error('boom');
});
const push = (clientGroupID: string, mutations: Partial<Record<keyof Mutation, unknown>>[]) => ({
  pushVersion: 1, clientGroupID, profileID: 'p', schemaVersion: '1',
  mutations: mutations.map((m) => ({ timestamp: 1, args: {}, ...m })),
});
const pull = (clientGroupID: string, cookie: unknown) => ({ pullVersion: 1, clientGroupID, cookie, profileID: 'p', schemaVersion: '1' });
const up = (clientID: string, id: number, key: string, data: unknown) => ({ clientID, id, name: 'upsert', args: { type: key.split('/')[0], id: key.split('/')[1], data } });
const inc = (clientID: string, id: number, by: number) => ({ clientID, id, name: 'increment', args: { type: 'review', id: 'r1', field: 'votes', by } });

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

/** A Db whose set-based push write fails like PostgreSQL refusing data (or, with code 'XX', like a transient fault). */
function faulty(db: Db, marker: string, code: string): Db {
  const wrap = (q: Queryable): Queryable => ({
    query: (sql, params) => {
      if (/write_push|push_fast/.test(sql) && params?.some((p) => typeof p === 'string' && p.includes(marker))) {
        return Promise.reject(Object.assign(new Error('unsupported Unicode escape sequence'), { code }));
      }
      return q.query(sql, params);
    },
    exec: (sql) => q.exec(sql),
  });
  return { dialect: db.dialect, ...wrap(db), transaction: (fn, o) => db.transaction((tx) => fn(wrap(tx)), o), close: () => db.close() };
}

for (const kind of storeKinds) {
  describe(`push validation and limits on ${kind.name}`, () => {
    const store = useStore(kind);
    async function fresh(limits: Partial<ServerLimits> = {}, on: Db = store.db, schema = store.schema('lim')) {
      return ServerDatabase.open(on, { clock, schema, limits, mutators: { explode } });
    }
    const body = (r: { body: unknown }) => r.body as PushResponseOK;

    it('refuses a limit that is not a positive integer, or unknown, when the server is made', () => {
      expect(() => new ServerDatabase(store.db, { clock, limits: { pageBytes: 0 } })).toThrow('server limit pageBytes must be a positive integer, got 0');
      expect(() => new ServerDatabase(store.db, { clock, pageSize: 2.5 })).toThrow('pageSize');
      expect(() => new ServerDatabase(store.db, { clock, limits: { maxDocs: 1 } as never })).toThrow('unknown server limit "maxDocs"');
    });

    it('refuses a batch with a foreign client before writing any of it', async () => {
      const s = await fresh();
      await handlePush(s, push('g1', [inc('c1', 1, 1)]));
      await handlePush(s, push('g2', [inc('c2', 1, 1)]));
      const r = await handlePush(s, push('g1', [inc('c1', 2, 1), inc('c2', 2, 1)]));
      expect(r.status).toBe(403);
      expect(JSON.stringify(r.body)).toContain('c2 belongs to another client group');
      expect((await s.readClients()).map((c) => c.lastMutationID)).toEqual([1, 1]);
      expect((await s.readLog()).length).toBe(2);
      expect((await s.readEntities()).get('review/r1')).toEqual({ votes: 2 });
    });

    it('records each invalid mutation as failed, advances the last mutation id, and applies the rest', async () => {
      const s = await fresh({ maxArgsBytes: 4000, maxDocumentBytes: 2000 });
      const bad: [Partial<Record<keyof Mutation, unknown>>, string][] = [
        [{ name: 'a\u0000b' }, 'invalid mutation name'],
        [{ name: 'upsert', args: { type: 'c', id: 'x', data: { s: 'x\u0000' } } }, 'NUL'],
        [{ name: 'upsert', args: { type: 'c', id: 'x', data: { s: '\ud83d' } } }, 'lone surrogate'],
        [{ name: 'upsert', args: { type: 'c', id: 'x', data: nested(3000) } }, 'nested deeper than 64'],
        [{ name: 'upsert', args: { type: 'c', id: 'x', data: { s: 'y'.repeat(5000) } } }, 'over the limit of 4000'],
        [{ name: 'upsert', args: JSON.parse('{"type":"c","id":"x","data":{"__proto__":{"admin":true}}}') }, '"__proto__" is not allowed'],
        [{ name: 'upsert', args: { type: 'c', id: 'x', data: {} }, timestamp: 'now' }, 'invalid timestamp'],
        [{ name: 'increment', args: { type: 'c', id: 'x', field: 'n', by: 'one' } }, 'invalid args for "increment"'],
        [{ name: 'explode' }, 'boom'],
        [{ name: 'upsert', args: { type: 'c', id: 'x', data: { s: 'y'.repeat(2500) } } }, 'document c/x: 25'],
        [{ name: 'increment', args: { type: 'c', id: 'big', field: 'n', by: 1.7e308 } }, ''],
        [{ name: 'increment', args: { type: 'c', id: 'big', field: 'n', by: 1.7e308 } }, 'not a finite number'],
      ];
      const ms = [...bad.map(([m], i) => ({ clientID: 'c1', id: i + 1, ...m })), up('c1', bad.length + 1, 'c/ok', { fine: true })];
      const r = await handlePush(s, push('g1', ms));
      expect(r.status).toBe(200);
      expect(body(r).lastMutationIDs).toEqual({ c1: bad.length + 1 });
      const failed = body(r).failed!;
      const expectedFailures = bad.map(([, e], i) => [i + 1, e] as const).filter(([, e]) => e !== '');
      expect(failed.map((f) => f.id)).toEqual(expectedFailures.map(([id]) => id));
      for (const [id, e] of expectedFailures) expect(failed.find((f) => f.id === id)!.error).toContain(e);
      const log = await s.readLog();
      expect(log.map((e) => e.mutationID)).toEqual(ms.map((m) => m.id));
      expect(log.filter((e) => e.error !== null).map((e) => e.mutationID)).toEqual(expectedFailures.map(([id]) => id));
      // Unstorable args are kept as null (the reason is in the error column).
      expect(log[1]!.args).toBeNull();
      expect(log[0]!.name).toBe('(invalid name)');
      expect(await s.readEntities()).toEqual(new Map([['c/big', { n: 1.7e308 }], ['c/ok', { fine: true }]]));
      expect((await s.readClients())[0]!.lastMutationID).toBe(bad.length + 1);
      expect(foldLog(log)).toEqual(await s.readEntities());
    });

    it('caps documents at 256 KiB by default', async () => {
      const s = await fresh();
      const r = await handlePush(s, push('g1', [up('c1', 1, 'doc/a', { s: 'x'.repeat(270 * 1024) }), up('c1', 2, 'doc/b', { s: 'x'.repeat(200 * 1024) })]));
      expect(body(r).failed).toEqual([{ clientID: 'c1', id: 1, error: expect.stringContaining('over the limit of 262144') }]);
      expect([...(await s.readEntities()).keys()]).toEqual(['doc/b']);
    });

    it('records a mutation PostgreSQL refuses (class 22) as failed and applies the rest of its batch', async () => {
      const s = await fresh({}, faulty(store.db, 'POISON', '22P05'));
      const r = await handlePush(s, push('g1', [up('c1', 1, 'c/a', { v: 1 }), up('c1', 2, 'c/b', { v: 'POISON' }), up('c1', 3, 'c/c', { v: 3 })]));
      expect(r.status).toBe(200);
      expect(body(r)).toEqual({ lastMutationIDs: { c1: 3 }, failed: [{ clientID: 'c1', id: 2, error: expect.stringContaining('refused by the database') }] });
      expect([...(await s.readEntities()).keys()]).toEqual(['c/a', 'c/c']);
      expect((await s.readLog()).map((e) => [e.mutationID, e.error === null])).toEqual([[1, true], [2, false], [3, true]]);
    });

    // Found by the simulator (scenarios/regressions/refused-first-mutation-budget-of-one.json):
    // the refused attempt used the budget's one mutation, and the retry that records the failure
    // then had none left, so the push processed nothing and its client resent it forever.
    it('records a refused mutation as failed under a push budget of one mutation', async () => {
      const s = await fresh({ maxMutationsPerPush: 1 }, faulty(store.db, 'POISON', '22P05'));
      const r = await handlePush(s, push('g1', [up('c1', 1, 'c/b', { v: 'POISON' }), up('c1', 2, 'c/c', { v: 3 })]));
      expect(body(r)).toEqual({ lastMutationIDs: { c1: 1 }, failed: [{ clientID: 'c1', id: 1, error: expect.stringContaining('refused by the database') }] });
      const next = await handlePush(s, push('g1', [up('c1', 2, 'c/c', { v: 3 })]));
      expect(body(next)).toEqual({ lastMutationIDs: { c1: 2 } });
      expect([...(await s.readEntities()).keys()]).toEqual(['c/c']);
    });

    it('after a refused mutation, one over what is left of the effect budget waits for the next push instead of failing', async () => {
      const s = await fresh({ maxEffectBytesPerPush: 3_000 }, faulty(store.db, 'POISON', '22P05'));
      const doc = (n: number) => ({ s: 'x'.repeat(2_000), n });
      const r = await handlePush(s, push('g1', [up('c1', 1, 'c/a', { v: 'POISON' }), up('c1', 2, 'c/b', doc(2)), up('c1', 3, 'c/c', doc(3))]));
      expect(body(r).lastMutationIDs).toEqual({ c1: 2 });
      expect(body(r).failed!.map((f) => f.id)).toEqual([1]);
      const next = await handlePush(s, push('g1', [up('c1', 3, 'c/c', doc(3))]));
      expect(body(next)).toEqual({ lastMutationIDs: { c1: 3 } });
      expect([...(await s.readEntities()).keys()].sort()).toEqual(['c/b', 'c/c']);
    });

    it('lets a transient fault through as an error (5xx) and writes nothing', async () => {
      const s = await fresh({}, faulty(store.db, 'FLAKY', '57P01'));
      await expect(handlePush(s, push('g1', [up('c1', 1, 'c/a', { v: 1 }), up('c1', 2, 'c/b', { v: 'FLAKY' })]))).rejects.toThrow('unsupported');
      expect((await s.readLog()).length).toBe(0);
      expect(await s.readClients()).toEqual([]);
    });

    it('answers ClientStateNotFound to a client that pushed before the database was wiped', async () => {
      const schema = store.schema('wipe');
      const s = await fresh({}, store.db, schema);
      await handlePush(s, push('g1', [inc('c1', 1, 1), inc('c1', 2, 1)]));
      const cookie = (body(await handlePull(s, pull('g1', null))) as unknown as PullResponseOK).cookie;
      await store.db.exec(`DROP SCHEMA "${schema}" CASCADE`);
      const wiped = await fresh({}, store.db, schema);
      expect(wiped.epoch).not.toBe(s.epoch);
      expect((await handlePush(wiped, push('g1', [inc('c1', 3, 1)]))).body).toEqual({ error: 'ClientStateNotFound' });
      expect((await handlePull(wiped, pull('g1', cookie))).body).toEqual({ error: 'ClientStateNotFound' });
      expect(await wiped.readClients()).toEqual([]);
      expect(await wiped.version()).toBe(0);
    });

    it('answers ClientStateNotFound when a restore from a backup moved a client back', async () => {
      const s = await fresh();
      await handlePush(s, push('g1', [inc('c1', 1, 1), inc('c1', 2, 1)]));
      const x = `"${s.schema}"`;
      const tables = ['meta', 'entities', 'replication_log', 'clients'];
      for (const t of tables) await store.db.exec(`CREATE TABLE ${x}.backup_${t} AS SELECT * FROM ${x}.${t}`);
      await handlePush(s, push('g1', [inc('c1', 3, 1), inc('c1', 4, 1)]));
      const cookie = (body(await handlePull(s, pull('g1', null))) as unknown as PullResponseOK).cookie;
      for (const t of tables) await store.db.exec(`DELETE FROM ${x}.${t}; INSERT INTO ${x}.${t} SELECT * FROM ${x}.backup_${t}`);
      expect((await handlePush(s, push('g1', [inc('c1', 5, 1)]))).body).toEqual({ error: 'ClientStateNotFound' });
      expect((await handlePull(s, pull('g1', cookie))).body).toEqual({ error: 'ClientStateNotFound' });
      expect((await s.readClients())[0]!.lastMutationID).toBe(2);
      expect((await s.readEntities()).get('review/r1')).toEqual({ votes: 2 });
    });

    it('stops a push at its mutation budget and reports how far it got', async () => {
      const s = await fresh({ maxMutationsPerPush: 3 });
      const all = [1, 2, 3, 4, 5].map((i) => inc('c1', i, 1));
      const r = await handlePush(s, push('g1', all));
      expect(body(r)).toEqual({ lastMutationIDs: { c1: 3 } });
      expect((await s.readLog()).length).toBe(3);
      // The client resends the rest (a resend of the whole batch skips what the server has).
      expect(body(await handlePush(s, push('g1', all)))).toEqual({ lastMutationIDs: { c1: 5 } });
      expect((await s.readEntities()).get('review/r1')).toEqual({ votes: 5 });
    });

    it('stops a push at its effect-byte budget, and fails a lone mutation that is over it', async () => {
      const s = await fresh({ maxEffectBytesPerPush: 1000 });
      const doc = (n: number) => ({ s: 'x'.repeat(n) });
      const r = await handlePush(s, push('g1', [up('c1', 1, 'c/a', doc(400)), up('c1', 2, 'c/b', doc(400)), up('c1', 3, 'c/c', doc(400))]));
      expect(body(r)).toEqual({ lastMutationIDs: { c1: 2 } });
      const r2 = await handlePush(s, push('g1', [up('c1', 3, 'c/c', doc(1500)), up('c1', 4, 'c/d', doc(10))]));
      expect(body(r2)).toEqual({ lastMutationIDs: { c1: 4 }, failed: [{ clientID: 'c1', id: 3, error: expect.stringContaining('per-push limit of 1000') }] });
      expect([...(await s.readEntities()).keys()]).toEqual(['c/a', 'c/b', 'c/d']);
    });

    it('bounds pull pages by bytes, ending each at a commit boundary, one large commit alone', async () => {
      const s = await fresh({ pageBytes: 1000 });
      const doc = (i: number) => ({ s: 'x'.repeat(400), i });
      let id = 0;
      for (let i = 0; i < 6; i++) await handlePush(s, push('g1', [up('c1', ++id, `c/k${i % 4}`, doc(i))]));
      await handlePush(s, push('g1', Array.from({ length: 5 }, (_, i) => up('c1', ++id, `c/b${i}`, doc(i)))));
      for (let i = 0; i < 3; i++) await handlePush(s, push('g1', [up('c1', ++id, `c/k${i}`, doc(i))]));
      const log = await s.readLog();
      const commitEnds = new Set([1, 2, 3, 4, 5, 6, 11, 12, 13, 14]);
      const state = new Map<string, unknown>();
      const cookies: number[] = [];
      let cookie: unknown = { order: 0, epoch: s.epoch };
      for (;;) {
        const r = (await handlePull(s, pull('g1', cookie))).body as PullResponseOK;
        if (r.patch.length === 0) break;
        expect(JSON.stringify(r.patch).length).toBeLessThan(3000);
        for (const op of r.patch as PatchOp[]) {
          if (op.op === 'put') state.set(op.key, op.value);
          else if (op.op === 'del') state.delete(op.key);
        }
        expect(commitEnds.has(r.cookie.order)).toBe(true);
        expect(new Map([...state].sort())).toEqual(foldLog(log.filter((e) => e.version <= r.cookie.order)));
        expect(r.lastMutationIDChanges.c1).toBe(r.cookie.order);
        cookies.push(r.cookie.order);
        cookie = r.cookie;
      }
      expect(cookies).toEqual([2, 4, 6, 11, 13, 14]);
      // A new client whose state is over a page catches up through the log, in the same pages.
      const first = (await handlePull(s, pull('g9', null))).body as PullResponseOK;
      expect(first.patch[0]).toEqual({ op: 'clear' });
      expect(first.cookie.order).toBe(2);
    });

    it('applies a retried or duplicated single upsert once, and answers a gap with ClientStateNotFound', async () => {
      const s = await fresh();
      expect(body(await handlePush(s, push('g1', [up('c1', 1, 'c/a', { v: 1 })])))).toEqual({ lastMutationIDs: { c1: 1 } });
      const again = push('g1', [up('c1', 2, 'c/a', { v: 2 })]);
      const rs = await Promise.all([handlePush(s, again), handlePush(s, again), handlePush(s, again)]);
      for (const r of rs) expect(body(r)).toEqual({ lastMutationIDs: { c1: 2 } });
      expect(body(await handlePush(s, again))).toEqual({ lastMutationIDs: { c1: 2 } });
      expect((await s.readLog()).map((e) => [e.version, e.mutationID])).toEqual([[1, 1], [2, 2]]);
      expect((await handlePush(s, push('g1', [up('c1', 4, 'c/a', { v: 4 })]))).body).toEqual({ error: 'ClientStateNotFound' });
      expect((await s.readEntities()).get('c/a')).toEqual({ v: 2 });
    });

    it('logs a document once per commit however many of its mutations write it', async () => {
      const s = await fresh();
      await handlePush(s, push('g1', [up('c1', 1, 'review/r1', { text: 'y'.repeat(10_000) })]));
      const r = await handlePush(s, push('g1', Array.from({ length: 50 }, (_, i) => inc('c1', i + 2, 1))));
      expect(body(r)).toEqual({ lastMutationIDs: { c1: 51 } });
      const raw = await store.db.query<{ version: number; effects: { value?: unknown }[] }>(`SELECT version, effects FROM "${s.schema}".replication_log ORDER BY version`);
      expect(raw.rows.filter((row) => row.effects[0]!.value !== undefined).map((row) => Number(row.version))).toEqual([1, 51]);
      const bytes = await store.db.query<{ b: number }>(`SELECT sum(octet_length(effects::text))::int AS b FROM "${s.schema}".replication_log`);
      expect(bytes.rows[0]!.b).toBeLessThan(25_000);
      // readLog gives every write's value back; its fold at every version is the state after that mutation.
      const log = await s.readLog();
      expect(log.slice(1).map((e) => (e.effects[0] as unknown as { value: { votes: number } }).value.votes)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(foldLog(log)).toEqual(await s.readEntities());
      const page = (await handlePull(s, pull('g2', { order: 1, epoch: s.epoch }))).body as PullResponseOK;
      expect(page.cookie.order).toBe(51);
      expect(page.patch).toEqual([{ op: 'put', key: 'review/r1', value: { text: 'y'.repeat(10_000), votes: 50 } }]);
    });

    it('serialises concurrent duplicate deliveries of multi-client batches without deadlock', async () => {
      const s = await fresh();
      for (let i = 1; i <= 4; i++) {
        const ab = push('g1', [inc('a', i, 1), inc('b', i, 1)]);
        const ba = push('g1', [inc('b', i, 1), inc('a', i, 1)]);
        const rs = await Promise.all([handlePush(s, ab), handlePush(s, ba), handlePush(s, ab), handlePush(s, push('g2', [inc(`z`, i, 1)]))]);
        for (const r of rs) expect(r.status).toBe(200);
      }
      expect((await s.readEntities()).get('review/r1')).toEqual({ votes: 12 });
      const log = await s.readLog();
      expect(log.map((e) => e.version)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      expect(foldLog(log)).toEqual(await s.readEntities());
    });
  });
}
