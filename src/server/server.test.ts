import { describe, expect, it } from 'vitest';
import { defineMutator, type Mutation, type PatchOp, type PullResponseOK } from '../protocol/index.ts';
import { z } from 'zod';
import { storeKinds, useStore } from '../../test/support/stores.ts';
import { foldLog, handlePull, handlePush, ServerDatabase } from './index.ts';

const clock = { now: () => 1_700_000_000_000 };
const explode = defineMutator(z.object({}), async (tx) => {
  tx.put('comment', 'half', { written: true });
  throw new Error('boom');
});

let seq = 0;
const push = (clientGroupID: string, mutations: Partial<Mutation>[]) => ({
  pushVersion: 1,
  clientGroupID,
  profileID: 'p',
  schemaVersion: '1',
  mutations: mutations.map((m) => ({ timestamp: ++seq, args: {}, ...m })),
});
const pull = (clientGroupID: string, cookie: unknown) => ({ pullVersion: 1, clientGroupID, cookie, profileID: 'p', schemaVersion: '1' });
/** A cookie of this server's database at version n. */
const at = (s: ServerDatabase, order: number) => ({ order, epoch: s.epoch });
const up = (clientID: string, id: number, key: string, data: object): Partial<Mutation> => ({
  clientID, id, name: 'upsert', args: { type: key.split('/')[0]!, id: key.split('/')[1]!, data } as never,
});
const inc = (clientID: string, id: number, by: number): Partial<Mutation> => ({
  clientID, id, name: 'increment', args: { type: 'review', id: 'r1', field: 'votes', by },
});

/** Applies a pull response to a plain map, as a client's snapshot would. */
function applyPatch(state: Map<string, unknown>, patch: PatchOp[]) {
  for (const op of patch) {
    if (op.op === 'clear') state.clear();
    else if (op.op === 'put') state.set(op.key, op.value);
    else state.delete(op.key);
  }
}

for (const kind of storeKinds) {
  describe(`ServerDatabase on ${kind.name}`, () => {
    const store = useStore(kind);
    async function fresh(pageSize?: number) {
      return ServerDatabase.open(store.db, { clock, schema: store.schema('srv'), pageSize, mutators: { explode } });
    }
    async function counts(s: ServerDatabase) {
      return { log: (await s.readLog()).length, entities: (await s.readEntities()).size, clients: (await s.readClients()).length, version: await s.version() };
    }

    it('applies a push retried after its response was lost exactly once', async () => {
      const s = await fresh();
      const body = push('g1', [inc('c1', 1, 1), inc('c1', 2, 1)]);
      expect((await handlePush(s, body)).status).toBe(200);
      // The response was lost; the client retries the same batch, plus one more.
      expect((await handlePush(s, push('g1', [inc('c1', 1, 1), inc('c1', 2, 1), inc('c1', 3, 1)]))).status).toBe(200);
      expect((await s.readEntities()).get('review/r1')).toEqual({ votes: 3 });
      expect((await s.readLog()).map((e) => e.mutationID)).toEqual([1, 2, 3]);
      expect((await s.readClients())[0]!.lastMutationID).toBe(3);
    });

    it('answers a gap in mutation ids with ClientStateNotFound (the client is ahead of this database)', async () => {
      const s = await fresh();
      await handlePush(s, push('g1', [inc('c1', 1, 1)]));
      const r = await handlePush(s, push('g1', [inc('c1', 3, 1)]));
      expect(r).toEqual({ status: 200, body: { error: 'ClientStateNotFound' } });
      expect((await s.readClients())[0]!.lastMutationID).toBe(1);
      expect((await counts(s)).log).toBe(1);
    });

    it('advances the last mutation id past a mutator that throws, and writes none of its effects', async () => {
      const s = await fresh();
      expect((await handlePush(s, push('g1', [{ clientID: 'c1', id: 1, name: 'explode' }, up('c1', 2, 'comment/a', { t: 1 })]))).status).toBe(200);
      const log = await s.readLog();
      expect(log.map((e) => [e.mutationID, e.error])).toEqual([[1, 'boom'], [2, null]]);
      expect(log[0]!.effects).toEqual([]);
      expect((await s.readEntities()).has('comment/half')).toBe(false);
      expect((await s.readClients())[0]!.lastMutationID).toBe(2);
      // Unknown mutators and bad args are recorded the same way: a client never wedges.
      await handlePush(s, push('g1', [{ clientID: 'c1', id: 3, name: 'nope' }, { clientID: 'c1', id: 4, name: 'increment', args: { type: 'x' } }]));
      expect((await s.readLog()).slice(2).map((e) => e.error)).toEqual([expect.stringContaining('unknown mutator'), expect.stringContaining('invalid args')]);
      expect((await s.readClients())[0]!.lastMutationID).toBe(4);
    });

    it('counts increments from two clients made against the same old value', async () => {
      const s = await fresh();
      await handlePush(s, push('g1', [inc('c1', 1, 2)]));
      await handlePush(s, push('g2', [inc('c2', 1, 5)]));
      expect((await s.readEntities()).get('review/r1')).toEqual({ votes: 7 });
    });

    it('deletes with a tombstone and re-creates after a delete', async () => {
      const s = await fresh();
      await handlePush(s, push('g1', [up('c1', 1, 'comment/a', { v: 1 })]));
      const before = (await handlePull(s, pull('g2', null))).body as PullResponseOK;
      await handlePush(s, push('g1', [{ clientID: 'c1', id: 2, name: 'delete', args: { type: 'comment', id: 'a' } }]));
      const afterDel = (await handlePull(s, pull('g2', before.cookie))).body as PullResponseOK;
      expect(afterDel.patch).toEqual([{ op: 'del', key: 'comment/a' }]);
      expect((await s.readEntities()).has('comment/a')).toBe(false);
      await handlePush(s, push('g1', [up('c1', 3, 'comment/a', { v: 2 })]));
      expect((await s.readEntities()).get('comment/a')).toEqual({ v: 2 });
      const afterRe = (await handlePull(s, pull('g2', afterDel.cookie))).body as PullResponseOK;
      expect(afterRe.patch).toEqual([{ op: 'put', key: 'comment/a', value: { v: 2 } }]);
    });

    it('gives an empty patch for an unchanged cookie and ClientStateNotFound for a cookie from the future', async () => {
      const s = await fresh();
      await handlePush(s, push('g1', [inc('c1', 1, 1)]));
      const r = (await handlePull(s, pull('g1', null))).body as PullResponseOK;
      expect(r.cookie).toEqual({ ...at(s, 1), fp: expect.any(String) });
      expect(r.lastMutationIDChanges).toEqual({ c1: 1 });
      expect((await handlePull(s, pull('g1', at(s, 1)))).body).toEqual({ cookie: r.cookie, lastMutationIDChanges: {}, patch: [], more: false });
      expect((await handlePull(s, pull('g1', at(s, 99)))).body).toEqual({ error: 'ClientStateNotFound' });
      // A cookie of another database (wiped, restored) or from before epochs: start over.
      expect((await handlePull(s, pull('g1', { order: 1, epoch: 'e-other' }))).body).toEqual({ error: 'ClientStateNotFound' });
      expect((await handlePull(s, pull('g1', 1))).body).toEqual({ error: 'ClientStateNotFound' });
    });

    it('reports lastMutationIDChanges only for the pulling client group', async () => {
      const s = await fresh();
      await handlePush(s, push('g1', [inc('c1', 1, 1)]));
      await handlePush(s, push('g2', [inc('c2', 1, 1)]));
      expect(((await handlePull(s, pull('g2', at(s, 0)))).body as PullResponseOK).lastMutationIDChanges).toEqual({ c2: 1 });
    });

    it('lets a client far behind catch up in pages, each a state the server really had', async () => {
      const s = await fresh(7);
      for (let i = 1; i <= 40; i++) {
        const key = `comment/k${i % 9}`;
        await handlePush(s, push('g1', [i % 5 === 0 ? { clientID: 'c1', id: i, name: 'delete', args: { type: 'comment', id: `k${i % 9}` } } : up('c1', i, key, { i })]));
      }
      const log = await s.readLog();
      const state = new Map<string, unknown>();
      // From version 0 the catch-up goes through the log; a new client (null) with more entities than a page does too.
      let cookie = 0;
      let pages = 0;
      for (;;) {
        const r = (await handlePull(s, pull('g1', at(s, cookie)))).body as PullResponseOK;
        if (r.cookie.order === cookie) break;
        applyPatch(state, r.patch);
        // The state after this page equals the fold of the log up to the page's cookie.
        expect([...state].sort()).toEqual([...foldLog(log.filter((e) => e.version <= r.cookie.order))].sort());
        expect(r.lastMutationIDChanges.c1).toBe(r.cookie.order);
        cookie = r.cookie.order;
        pages++;
      }
      expect(pages).toBe(Math.ceil(40 / 7));
      expect(new Map([...state].sort())).toEqual(await s.readEntities());
      for (let i = 41; i <= 60; i++) await handlePush(s, push('g1', [up('c1', i, `review/r${i}`, { i })]));
      const first = (await handlePull(s, pull('g9', null))).body as PullResponseOK;
      expect(first.patch[0]).toEqual({ op: 'clear' });
      expect(first.cookie.order).toBe(7);
    });

    it('answers every malformed body with a 4xx naming the problem, and writes nothing', async () => {
      const s = await fresh();
      await handlePush(s, push('g1', [inc('c1', 1, 1)]));
      const before = await counts(s);
      const good = push('g1', [inc('c1', 2, 1)]);
      const bad: [unknown, string][] = [
        [null, 'JSON object'],
        ['push', 'JSON object'],
        [[], 'JSON object'],
        [{ ...good, pushVersion: 2 }, 'VersionNotSupported'],
        [{ ...good, clientGroupID: undefined }, 'clientGroupID'],
        [{ ...good, mutations: 'x' }, 'mutations'],
        [{ ...good, mutations: [{ ...good.mutations[0], id: 0 }] }, 'mutations.0.id'],
        [{ ...good, mutations: [{ ...good.mutations[0], id: 2.5 }] }, 'mutations.0.id'],
        [{ ...good, mutations: [{ ...good.mutations[0], clientID: '' }] }, 'mutations.0.clientID'],
        [{ ...good, mutations: [{ ...good.mutations[0], clientID: 'c\u0000' }] }, 'NUL'],
        [{ ...good, mutations: Array.from({ length: 1001 }, (_, i) => ({ ...good.mutations[0], id: i + 2 })) }, 'mutations'],
        [{ ...good, mutations: [inc('c1', 2, 1), inc('c1', 4, 1)].map((m) => ({ ...m, timestamp: 1 })) }, 'consecutive'],
        [{ ...good, mutations: [inc('c1', 3, 1), inc('c1', 2, 1)].map((m) => ({ ...m, timestamp: 1 })) }, 'ascending'],
      ];
      for (const [body, expected] of bad) {
        const r = await handlePush(s, body);
        expect(r.status, JSON.stringify(body)).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
        expect(JSON.stringify(r.body)).toContain(expected);
      }
      const badPulls: [unknown, string][] = [
        [{ ...pull('g1', 0), pullVersion: 0 }, 'VersionNotSupported'],
        [{ ...pull('g1', 0), cookie: -1 }, 'cookie'],
        [{ ...pull('g1', 0), cookie: 'abc' }, 'cookie'],
        [{ ...pull('g1', 0), clientGroupID: 7 }, 'clientGroupID'],
        [42, 'JSON object'],
      ];
      for (const [body, expected] of badPulls) {
        const r = await handlePull(s, body);
        expect(r.status).toBe(400);
        expect(JSON.stringify(r.body)).toContain(expected);
      }
      expect(await counts(s)).toEqual(before);
    });

    it('refuses a clientID claimed by a second client group', async () => {
      const s = await fresh();
      await handlePush(s, push('g1', [inc('c1', 1, 1)]));
      const r = await handlePush(s, push('g2', [inc('c1', 2, 1)]));
      expect(r.status).toBe(403);
      expect(JSON.stringify(r.body)).toContain('another client group');
      expect((await s.readClients()).map((c) => [c.clientID, c.clientGroupID, c.lastMutationID])).toEqual([['c1', 'g1', 1]]);
    });

    it('rejects an unsupported schemaVersion when one is configured', async () => {
      const s = await fresh();
      expect((await handlePull(s, pull('g1', null), { schemaVersion: '2' })).body).toEqual({ error: 'VersionNotSupported', versionType: 'schema' });
    });

    it('serialises concurrent pushes so that every increment counts and versions are unique', async () => {
      const s = await fresh();
      await Promise.all(
        Array.from({ length: 6 }, (_, c) => (async () => {
          for (let i = 1; i <= 5; i++) expect((await handlePush(s, push(`g${c}`, [inc(`c${c}`, i, 1)]))).status).toBe(200);
        })()),
      );
      const log = await s.readLog();
      expect(log.map((e) => e.version)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      expect((await s.readEntities()).get('review/r1')).toEqual({ votes: 30 });
      expect(foldLog(log)).toEqual(await s.readEntities());
    });
  });
}
