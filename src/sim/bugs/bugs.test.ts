/**
 * Each planted bug really is a bug: a small, direct scenario per variant where the real code is
 * right and the variant is wrong. (Whether the simulator finds them by itself is the zoo test.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PGliteDb } from '../../db/pglite.ts';
import { PersistentSyncEngine } from '../../engine/index.ts';
import { expectedVisible } from '../../engine/simulation.ts';
import type { Mutation } from '../../protocol/index.ts';
import { foldLog, handlePull, handlePush, localTransport, ServerDatabase } from '../../server/index.ts';
import { uniqueSchema } from '../../../test/support/stores.ts';
import { bugs, findBug, type BugVariant } from './index.ts';

let db: PGliteDb;
beforeAll(async () => {
  db = await PGliteDb.open();
});
afterAll(async () => {
  await db.close();
});

let now = 1_000;
const clock = { now: () => now };
let n = 0;
const ids = { newId: (p: string) => `${p}${++n}` };
const push = (g: string, ms: Partial<Mutation>[]) => ({ pushVersion: 1, clientGroupID: g, profileID: '', schemaVersion: '1', mutations: ms.map((m) => ({ timestamp: 0, ...m })) });
const inc = (c: string, id: number): Partial<Mutation> => ({ clientID: c, id, name: 'increment', args: { type: 'tally', id: 't', field: 'n', by: 1 } });

async function server(bug?: BugVariant) {
  const Cls = bug?.Server ?? ServerDatabase;
  const s = new Cls(db, { clock, schema: uniqueSchema('bugsrv') });
  await (s as unknown as { migrate(): Promise<void> }).migrate();
  return s;
}

async function world(bug?: BugVariant) {
  const s = await server(bug);
  const transport = localTransport({ handlePush: (b) => handlePush(s, b), handlePull: (b) => handlePull(s, b) });
  const client = () => PersistentSyncEngine.open({ db, schema: uniqueSchema('bugcl'), transport, clock, ids, simulation: { createStore: bug?.createStore } });
  return { s, client };
}

/** Runs scenario against the real code and the variant: the real code must pass, the variant fail. */
async function contrast(bugName: string, scenario: (w: Awaited<ReturnType<typeof world>>) => Promise<void>) {
  await scenario(await world());
  await expect(scenario(await world(findBug(bugName)))).rejects.toThrow();
}

describe('planted bugs', () => {
  it('has fourteen uniquely named variants', () => {
    expect(new Set(bugs.map((b) => b.name)).size).toBe(14);
  });

  it('flush-next-id-in-memory leaves stored ids past the stored next id: the pull that acknowledges them is refused', async () => {
    const run = async (bug?: BugVariant) => {
      const s0 = await server();
      const transport = localTransport({ handlePush: (b) => handlePush(s0, b), handlePull: (b) => handlePull(s0, b) });
      const a = await PersistentSyncEngine.open({ db, schema: uniqueSchema('bugcl'), transport, clock, ids, durability: 'deferred', simulation: { createStore: bug?.createStore } });
      await a.upsert('comment', 'x', { body: 'b' });
      await a.flush();
      await a.sync();
      expect((await a.getState()).lastMutationID).toBe(1);
    };
    await run();
    await expect(run(findBug('flush-next-id-in-memory'))).rejects.toThrow(/never created/);
  });

  it('upsert-merges keeps fields an upsert left out, on client and server alike', () =>
    contrast('upsert-merges', async ({ s, client }) => {
      const a = await client();
      await a.upsert('comment', 'x', { body: 'b', pinned: true });
      await a.upsert('comment', 'x', { body: 'c' });
      expect(await a.visibleEntities()).toEqual(new Map([['comment/x', { body: 'c' }]]));
      await a.sync();
      expect((await s.readEntities()).get('comment/x')).toEqual({ body: 'c' });
    }));

  it('non-idempotent-push applies a retried push twice', () =>
    contrast('non-idempotent-push', async ({ s }) => {
      await handlePush(s, push('g', [inc('c', 1)]));
      await handlePush(s, push('g', [inc('c', 1), inc('c', 2)]));
      expect((await s.readEntities()).get('tally/t')).toEqual({ n: 2 });
    }));

  it('lmid-outside-transaction applies a duplicate delivery twice when it interleaves', () =>
    contrast('lmid-outside-transaction', async ({ s }) => {
      await Promise.all([handlePush(s, push('g', [inc('c', 1)])), handlePush(s, push('g', [inc('c', 1)]))]);
      expect((await s.readEntities()).get('tally/t')).toEqual({ n: 1 });
    }));

  it('version-update-then-select hands out one version twice under interleaving', () =>
    contrast('version-update-then-select', async ({ s }) => {
      await Promise.all([handlePush(s, push('g1', [inc('c1', 1)])), handlePush(s, push('g2', [inc('c2', 1)]))]);
      const versions = (await s.readLog()).map((e) => e.version);
      expect(new Set(versions).size).toBe(2);
    }));

  it('upsert-ignored drops upserts on the server', () =>
    contrast('upsert-ignored', async ({ s }) => {
      await handlePush(s, push('g', [{ clientID: 'c', id: 1, name: 'upsert', args: { type: 'a', id: '1', data: { x: 1 } } }]));
      expect((await s.readEntities()).get('a/1')).toEqual({ x: 1 });
    }));

  it('recreate-stays-deleted keeps a re-created entity deleted', () =>
    contrast('recreate-stays-deleted', async ({ s }) => {
      const up = (id: number): Partial<Mutation> => ({ clientID: 'c', id, name: 'upsert', args: { type: 'a', id: '1', data: { v: id } } });
      await handlePush(s, push('g', [up(1), { clientID: 'c', id: 2, name: 'delete', args: { type: 'a', id: '1' } }, up(3)]));
      expect(await s.readEntities()).toEqual(foldLog(await s.readLog()));
    }));

  it('timestamp-cookie misses a commit in the same millisecond as the pull', () =>
    contrast('timestamp-cookie', async ({ s, client }) => {
      const a = await client();
      await a.pull();
      await handlePush(s, push('g', [inc('c', 1)])); // same virtual millisecond
      now += 5;
      await a.pull();
      expect(await a.visibleEntities()).toEqual(await s.readEntities());
    }));

  it('acked-never-dropped replays acknowledged increments again', () =>
    contrast('acked-never-dropped', async ({ s, client }) => {
      const a = await client();
      await a.increment('tally', 't', 'n', 1);
      await a.sync();
      expect(await a.visibleEntities()).toEqual(await s.readEntities());
    }));

  it('no-rebase loses pending local edits from view when a pull lands', () =>
    contrast('no-rebase', async ({ client }) => {
      const [a, b] = [await client(), await client()];
      await b.increment('tally', 't', 'n', 1);
      await b.sync();
      await a.increment('tally', 't', 'n', 10); // pending
      await a.pull();
      expect(await a.visibleEntities()).toEqual(await expectedVisible(a.store));
    }));

  it('pending-by-wall-clock sends mutations out of order after the clock steps back', () =>
    contrast('pending-by-wall-clock', async ({ client }) => {
      const a = await client();
      now = 5_000;
      await a.increment('tally', 't', 'n', 1);
      now = 4_000; // NTP steps the clock back
      await a.increment('tally', 't', 'n', 1);
      await a.sync();
      expect((await a.getState()).pendingCount).toBe(0);
    }));

  it('increment-last-writer-wins loses one of two concurrent increments', () =>
    contrast('increment-last-writer-wins', async ({ s, client }) => {
      const [a, b] = [await client(), await client()];
      await a.increment('tally', 't', 'n', 1);
      await b.increment('tally', 't', 'n', 1);
      await a.sync();
      await b.sync();
      expect((await s.readEntities()).get('tally/t')).toEqual({ n: 2 });
    }));
});
