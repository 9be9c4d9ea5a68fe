/**
 * Staged bootstrap (issue 12, goal 3): a client behind the compaction horizon whose full state
 * does not fit one page gets the base at the horizon in pages (src/server/pull.ts basePage). It
 * stages them and shows nothing new until the last one, then the state the server had at the
 * horizon, then the log after it; if the horizon moves meanwhile it starts over. Every state it
 * shows is one the server had, and it ends equal to the server.
 */
import { describe, expect, it } from 'vitest';
import { PGliteDb } from '../db/pglite.ts';
import type { EntityData, PullRequest, PullResponseOK } from '../protocol/index.ts';
import { createSyncServer, foldLog, localTransport, type SyncServer } from '../server/index.ts';
import type { Transport } from '../seams/index.ts';
import { PersistentSyncEngine } from './persistent-sync-engine.ts';

const clock = { now: () => 1_700_000_000_000 };
const doc = (i: number, round: number) => ({ i, round, text: `document ${i} of round ${round}, a few words` });

/** A transport that records each pull's cookie and lets a test act between pages. */
function recording(server: SyncServer, between?: (resp: PullResponseOK) => Promise<void>) {
  const inner = localTransport(server);
  const pulls: PullResponseOK[] = [];
  const t: Transport = {
    push: (req) => inner.push(req),
    async pull(req: PullRequest) {
      const resp = await inner.pull(req);
      pulls.push(resp);
      await between?.(resp);
      return resp;
    },
  };
  return { t, pulls };
}

/** Every state the server had, by version (from the log of a server that archives before compacting). */
function statesOf(log: Awaited<ReturnType<SyncServer['database']['readLog']>>): Map<string, EntityData>[] {
  const out = [new Map<string, EntityData>()];
  for (let v = 1; v <= log.length; v++) out.push(foldLog(log.slice(0, v)));
  return out;
}

const same = (a: Map<string, EntityData>, b: Map<string, EntityData>) => JSON.stringify([...a]) === JSON.stringify([...b]);

describe('staged bootstrap behind the compaction horizon', () => {
  it('stages the base in several small pages, never shows a partial state, and ends equal to the server', async () => {
    const server = await createSyncServer({ clock, pageBytes: 300 });
    const clientDb = await PGliteDb.open();
    const writer = await PersistentSyncEngine.open({ db: clientDb, schema: 'w', transport: localTransport(server), clientGroupID: 'gw' });
    const behindRec = recording(server);
    const behind = await PersistentSyncEngine.open({ db: clientDb, schema: 'b', transport: behindRec.t, clientGroupID: 'gb' });
    for (let i = 0; i < 3; i++) await writer.upsert('doc', `d${i}`, doc(i, 0));
    await writer.sync();
    await behind.sync();
    for (let i = 0; i < 20; i++) await writer.upsert('doc', `d${i}`, doc(i, 1));
    await writer.delete('doc', 'd1');
    await writer.sync();
    // A pending write of the client behind, acknowledged before the horizon: the bootstrap's lmids drop it.
    await behind.upsert('doc', 'mine', { pending: true });
    await behind.push();
    const log = await server.database.readLog();
    const states = statesOf(log);
    const horizon = (await server.database.compact({ keepVersions: 0 })).horizon;
    expect(horizon).toBe(log.length);
    for (let i = 0; i < 4; i++) await writer.upsert('doc', `e${i}`, doc(i, 2));
    await writer.sync();
    const after = await server.database.readLog();
    const all = [...log, ...after];
    states.push(...all.slice(log.length).map((_, k) => foldLog(all.slice(0, log.length + k + 1))));

    // A new client and the client behind pull page by page; after each, what they show is a state the server had.
    const freshRec = recording(server);
    const fresh = await PersistentSyncEngine.open({ db: clientDb, schema: 'f', transport: freshRec.t, clientGroupID: 'gf' });
    for (const [engine, rec] of [[fresh, freshRec], [behind, behindRec]] as const) {
      rec.pulls.length = 0;
      const before = await engine.visibleEntities();
      const shown: Map<string, EntityData>[] = [];
      while (await engine.pull()) shown.push(await engine.visibleEntities());
      const staged = rec.pulls.filter((p) => p.cookie.stage !== undefined);
      expect(staged.length).toBeGreaterThanOrEqual(3);
      for (const p of staged) expect(p.cookie.order).toBe(horizon);
      // Until the last staged page the client shows what it showed before; after it, the state at the horizon.
      for (const [k, v] of shown.entries()) {
        if (k < staged.length) expect(same(v, before), `page ${k} shows a partial state`).toBe(true);
        else expect(states.some((st) => same(st, v)), `page ${k} shows a state the server never had`).toBe(true);
      }
      expect(same(shown[staged.length]!, states[horizon]!)).toBe(true);
      expect(await engine.visibleEntities()).toEqual(await server.database.readEntities());
      expect(await engine.pendingMutations()).toEqual([]);
    }
    await server.close();
    await clientDb.close();
  });

  it('starts over when the horizon moves between pages, and still ends equal to the server', async () => {
    const server = await createSyncServer({ clock, pageBytes: 300 });
    const clientDb = await PGliteDb.open();
    const writer = await PersistentSyncEngine.open({ db: clientDb, schema: 'w', transport: localTransport(server), clientGroupID: 'gw' });
    for (let i = 0; i < 20; i++) await writer.upsert('doc', `d${i}`, doc(i, 0));
    await writer.sync();
    await server.database.compact({ keepVersions: 0 });
    let moved = 0;
    const rec = recording(server, async (resp) => {
      // After the second staged page: more writes, and compaction moves the horizon.
      if (resp.cookie.stage !== undefined && ++moved === 2) {
        for (let i = 0; i < 5; i++) await writer.upsert('doc', `d${i * 3}`, doc(i, 1));
        await writer.delete('doc', 'd19');
        await writer.sync();
        await server.database.compact({ keepVersions: 0 });
      }
    });
    const fresh = await PersistentSyncEngine.open({ db: clientDb, schema: 'f', transport: rec.t, clientGroupID: 'gf' });
    const shown: Map<string, EntityData>[] = [];
    while (await fresh.pull()) shown.push(await fresh.visibleEntities());
    const horizons = [...new Set(rec.pulls.filter((p) => p.cookie.stage !== undefined).map((p) => p.cookie.order))];
    expect(horizons.length).toBe(2);
    const final = await server.database.readEntities();
    // Nothing is shown until a whole base has arrived: then the state at the second horizon, the current one.
    for (const v of shown) expect(v.size === 0 || same(v, final)).toBe(true);
    expect(await fresh.visibleEntities()).toEqual(final);
    await server.close();
    await clientDb.close();
  });
});
