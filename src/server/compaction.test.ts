/**
 * Log compaction (issue 12, goal 3): pull stays exact for a client at every cookie, a client
 * behind the horizon gets a full resync, fold(base + remaining log) is the entities, a
 * restored database is told apart by the cookie's fingerprint, and the schedule runs on the
 * Timer seam.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../db/types.ts';
import { PGliteDb } from '../db/pglite.ts';
import { PersistentSyncEngine } from '../engine/persistent-sync-engine.ts';
import type { Mutation, PatchOp, PullResponseOK } from '../protocol/index.ts';
import { storeKinds, uniqueSchema } from '../../test/support/stores.ts';
import { ManualTimer } from '../../test/support/http-server.ts';
import { createSyncServer, foldLog, handlePull, handlePush, localTransport, ServerDatabase } from './index.ts';
import { fingerprint } from './fingerprint.ts';

let now = 1_700_000_000_000;
const clock = { now: () => now };
let seq = 0;
const push = (mutations: Partial<Mutation>[], group = 'g') => ({
  pushVersion: 1, clientGroupID: group, profileID: 'p', schemaVersion: '1',
  mutations: mutations.map((m) => ({ timestamp: ++seq, args: {}, ...m })),
});
const pull = (cookie: unknown, group = 'g', stagedBootstrap = true) => ({ pullVersion: 1, clientGroupID: group, cookie, profileID: 'p', schemaVersion: '1', stagedBootstrap });
const up = (clientID: string, id: number, key: string, data: object): Partial<Mutation> => ({ clientID, id, name: 'upsert', args: { type: key.split('/')[0]!, id: key.split('/')[1]!, data } as never });
const del = (clientID: string, id: number, key: string): Partial<Mutation> => ({ clientID, id, name: 'delete', args: { type: key.split('/')[0]!, id: key.split('/')[1]! } as never });
const inc = (clientID: string, id: number, key: string, by: number): Partial<Mutation> => ({ clientID, id, name: 'increment', args: { type: key.split('/')[0]!, id: key.split('/')[1]!, field: 'n', by } as never });

function apply(state: Map<string, unknown>, patch: PatchOp[]) {
  for (const op of patch) {
    if (op.op === 'clear') state.clear();
    else if (op.op === 'put') state.set(op.key, op.value);
    else state.delete(op.key);
  }
}

/** 40-odd versions: single and batched pushes, several writes of a key in one commit, deletes, re-creates. */
async function history(s: ServerDatabase): Promise<void> {
  let id = 0;
  const next = () => ++id;
  for (let round = 0; round < 6; round++) {
    expect((await handlePush(s, push([up('w', next(), `doc/a${round % 3}`, { round })]))).status).toBe(200);
    expect((await handlePush(s, push([inc('w', next(), 'doc/c', 1), inc('w', next(), 'doc/c', 2), up('w', next(), `doc/b${round}`, { round }), inc('w', next(), 'doc/c', 3)]))).status).toBe(200);
    expect((await handlePush(s, push([del('w', next(), `doc/b${round - 1}`), up('w', next(), `doc/a${(round + 1) % 3}`, { again: round })]))).status).toBe(200);
    now += 1000;
  }
}

for (const kind of storeKinds) {
  describe(`compaction on ${kind.name}`, () => {
    let db: Db;
    beforeAll(async () => {
      db = await kind.open();
    });
    afterAll(() => db.close());
    const fresh = (pageSize = 1_000) => ServerDatabase.open(db, { clock, schema: uniqueSchema('cmp'), pageSize });

    it('keeps every pull page exact for a client at every cookie, and fold(base + log) is the entities', async () => {
      const s = await fresh(4);
      await history(s);
      const before = await s.readLog();
      const stateAt = (v: number) => foldLog(before.filter((e) => e.version <= v));
      const fpAt = (v: number) => (v === 0 ? '0' : fingerprint(before[v - 1]!.clientID, before[v - 1]!.mutationID));
      const boundaries = [0, ...(await db.query<{ v: number }>(`SELECT DISTINCT coalesce(commit_version, version) AS v FROM ${s.schema}.replication_log ORDER BY 1`)).rows.map((r) => Number(r.v))];
      const version = await s.version();

      const r = await s.compact({ keepVersions: 15 });
      expect(r.horizon).toBeGreaterThan(0);
      expect(r.horizon).toBeLessThanOrEqual(version - 15);
      expect(boundaries).toContain(r.horizon);
      expect(await s.horizon()).toBe(r.horizon);
      const after = await s.readLog();
      expect(after.every((e) => e.version > r.horizon)).toBe(true);
      expect(after.length).toBe(version - r.horizon);
      // The base is the state at the horizon; the elided puts above it are recomputed from it.
      expect(await s.readLogBase()).toEqual(stateAt(r.horizon));
      expect(foldLog(after, await s.readLogBase())).toEqual(await s.readEntities());
      expect(after).toEqual(before.filter((e) => e.version > r.horizon));

      for (const v of boundaries) {
        const state = stateAt(v);
        let cookie: unknown = { order: v, epoch: s.epoch, fp: fpAt(v) };
        let staged: PatchOp[] = [];
        let stagedPages = 0;
        for (let page = 0; ; page++) {
          const res = await handlePull(s, pull(cookie));
          expect(res.status).toBe(200);
          const body = res.body as PullResponseOK;
          // Behind the horizon: a full resync, staged in pages of the base at the horizon (4 rows each).
          if (v < r.horizon && page === 0) {
            expect(body.patch[0]).toEqual({ op: 'clear' });
            expect(body.cookie.order).toBe(r.horizon);
          }
          if (body.cookie.stage !== undefined) {
            expect(body.cookie.order).toBe(r.horizon);
            expect(body.patch.filter((op) => op.op === 'put').length).toBeLessThanOrEqual(4);
            staged.push(...body.patch);
            stagedPages++;
            cookie = body.cookie;
            continue;
          }
          apply(state, [...staged, ...body.patch]);
          staged = [];
          // Every page leaves the client at a state the server had at the page's cookie.
          expect(state).toEqual(stateAt(body.cookie.order));
          if (body.cookie.order === (cookie as { order: number }).order && (cookie as { stage?: string }).stage === undefined) break;
          expect(body.cookie.fp).toBe(fpAt(body.cookie.order));
          cookie = body.cookie;
        }
        if (v < r.horizon) expect(stagedPages).toBeGreaterThan(0);
        expect(state).toEqual(await s.readEntities());
      }
      // A stock Replicache client (no stagedBootstrap) behind the horizon cannot stage pages: it
      // gets the current state in one page past the bounds, never a partial base.
      for (const stock of [null, { order: 0, epoch: s.epoch, fp: fpAt(0) }]) {
        const one = (await handlePull(s, pull(stock, 'g', false))).body as PullResponseOK;
        expect(one.cookie).toEqual({ order: version, epoch: s.epoch, fp: fpAt(version) });
        const st1 = new Map();
        apply(st1, one.patch);
        expect(st1).toEqual(await s.readEntities());
      }
      // A new client after compaction gets the whole state at once when it fits a page.
      const big = await ServerDatabase.open(db, { clock, schema: s.schema, pageSize: 1000 });
      const fresh0 = (await handlePull(big, pull(null))).body as PullResponseOK;
      expect(fresh0.cookie).toEqual({ order: version, epoch: s.epoch, fp: fpAt(version) });
      const st = new Map();
      apply(st, fresh0.patch);
      expect(st).toEqual(await s.readEntities());
      // Compacting again moves on from the horizon, and everything is folded with keepVersions 0.
      const all = await s.compact({ keepVersions: 0 });
      expect(all.horizon).toBe(version);
      expect(await s.readLog()).toEqual([]);
      expect(await s.readLogBase()).toEqual(await s.readEntities());
      expect((await s.compact({ keepVersions: 0 })).droppedRows).toBe(0);
    });

    it('answers ClientStateNotFound to a cookie from a restored database that moved on, at or past the horizon', async () => {
      const s = await fresh();
      for (let i = 1; i <= 6; i++) await handlePush(s, push([up('w', i, `doc/d${i}`, { i })]));
      const seen = ((await handlePull(s, pull(null))).body as PullResponseOK).cookie;
      expect(seen.order).toBe(6);
      // A restore from a backup taken at version 3, which then took other writes up to 6.
      await db.exec(`DELETE FROM ${s.schema}.replication_log WHERE version > 3; UPDATE ${s.schema}.meta SET version = 3; UPDATE ${s.schema}.clients SET last_mutation_id = 3`);
      for (let i = 1; i <= 3; i++) await handlePush(s, push([up('x', i, `doc/x${i}`, { i })]));
      expect(await s.version()).toBe(6);
      expect((await handlePull(s, pull(seen))).body).toEqual({ error: 'ClientStateNotFound' });
      const mid = { order: 5, epoch: s.epoch, fp: fingerprint('w', 5) };
      expect((await handlePull(s, pull(mid))).body).toEqual({ error: 'ClientStateNotFound' });
      // Its own cookies are fine; at the horizon the fingerprint is still checked.
      const good = ((await handlePull(s, pull(null))).body as PullResponseOK).cookie;
      expect((await handlePull(s, pull(good))).status).toBe(200);
      await s.compact({ keepVersions: 0 });
      expect(((await handlePull(s, pull(good))).body as PullResponseOK).patch).toEqual([]);
      expect((await handlePull(s, pull(seen))).body).toEqual({ error: 'ClientStateNotFound' });
      // A cookie without a fingerprint (from before fingerprints) is not checked.
      expect((await handlePull(s, pull({ order: 6, epoch: s.epoch }))).status).toBe(200);
    });

    it('keeps rows younger than keepMs, and the union of both rules when both are given', async () => {
      const s = await fresh();
      for (let i = 1; i <= 10; i++) {
        await handlePush(s, push([up('w', i, `doc/t${i}`, { i })]));
        now += 60_000;
      }
      // Rows 1..10 were written a minute apart, the last one 60 s ago: rows 7..10 are younger than 5 minutes.
      expect((await s.compact({ keepMs: 5 * 60_000 })).horizon).toBe(6);
      expect((await s.compact({ keepMs: 60_000, keepVersions: 3 })).horizon).toBe(7);
      expect(foldLog(await s.readLog(), await s.readLogBase())).toEqual(await s.readEntities());
      expect(() => new ServerDatabase(db, { clock, retention: { keepVersions: -1 } })).toThrow(/keepVersions/);
      await expect(s.compact({ keepMs: 1.5 } as never)).rejects.toThrow(/keepMs/);
    });
  });
}

describe('compaction with a real client', () => {
  it('a client whose cookie predates the horizon resyncs to the exact state; the schedule runs on the Timer seam', async () => {
    const timer = new ManualTimer();
    const runs: number[] = [];
    const server = await createSyncServer({ clock, timer, retention: { keepVersions: 0 }, compaction: { everyMs: 60_000, onCompact: (r) => runs.push(r.horizon) } });
    const clientDb = await PGliteDb.open();
    const a = await PersistentSyncEngine.open({ db: clientDb, schema: 'a', transport: localTransport(server), clientGroupID: 'ga' });
    const b = await PersistentSyncEngine.open({ db: clientDb, schema: 'b', transport: localTransport(server), clientGroupID: 'gb' });
    for (let i = 0; i < 5; i++) await a.upsert('doc', `d${i}`, { i });
    await a.sync();
    await b.sync();
    for (let i = 0; i < 5; i++) await a.upsert('doc', `d${i + 3}`, { i, later: true });
    await a.delete('doc', 'd0');
    await a.sync();
    await b.upsert('doc', 'mine', { pending: true });
    expect(timer.sleepers).toBe(1);
    timer.fire();
    await expect.poll(() => runs.length).toBe(1);
    expect(runs[0]).toBe(await server.database.version());
    // b's cookie is behind the horizon: a full resync, its pending write rebased on it.
    await b.sync();
    expect(await b.visibleEntities()).toEqual(await server.database.readEntities());
    await a.sync();
    expect(await a.visibleEntities()).toEqual(await server.database.readEntities());
    expect((await server.database.readEntities()).get('doc/mine')).toEqual({ pending: true });
    await expect(createSyncServer({ compaction: { everyMs: 0 } })).rejects.toThrow(/everyMs/);
    await server.close();
    await clientDb.close();
  });
});

