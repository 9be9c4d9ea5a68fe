/**
 * The pull that only confirms the client is up to date: the server's pull answer says whether
 * another page follows (`more`), and a sync stops after the page that says none does, sending no
 * further pull, ahead or after. An older server says nothing, and a sync pulls again as before.
 * Paging (pages of the log, a staged bootstrap behind the compaction horizon) goes on while
 * `more` is true. Pull requests are counted at the Transport seam.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PullRequest, PullResponseOK } from '../../protocol/index.ts';
import { createSyncServer, localTransport } from '../../server/index.ts';
import type { Transport } from '../../seams/index.ts';
import { PersistentSyncEngine } from '../index.ts';
import { clock, ids, openClient, openDbs, openServer, switchableTransport } from './world.ts';

let dbs: Awaited<ReturnType<typeof openDbs>>;
beforeAll(async () => {
  dbs = await openDbs();
});
afterAll(async () => dbs.close());

/**
 * Counts pulls (answers in `answers`, requests sent ahead in `ahead`) over `inner`, offering
 * pullAhead as fetchTransport does; `old` strips `more` from every answer (a server from before it).
 */
function counted(inner: Transport, old = false) {
  const answers: PullResponseOK[] = [];
  let ahead = 0;
  const pull = async (req: PullRequest) => {
    const r = await inner.pull(req);
    const resp = old ? (({ more: _more, ...rest }) => rest)(r) : r;
    answers.push(resp);
    return resp;
  };
  const t: Transport = {
    push: (req) => inner.push(req),
    pull,
    pullAhead(req) {
      ahead++;
      const response = pull(req);
      response.catch(() => undefined);
      return { response: () => response };
    },
  };
  return { t, answers, ahead: () => ahead };
}

describe('a sync stops at the page the server says is its last', () => {
  it('sends one pull after a push, where a server without `more` gets a second one that confirms', async () => {
    for (const old of [false, true]) {
      const server = await openServer(dbs.serverDb);
      const c = counted(switchableTransport(() => server), old);
      const a = await openClient(dbs.clientDb, c.t);
      await a.sync();
      c.answers.length = 0;
      for (let i = 0; i < 10; i++) await a.mutate('increment', { type: 'tally', id: `t${i % 3}`, field: 'n', by: 1 });
      await a.sync();
      const state = await a.getState();
      expect(state.pendingCount).toBe(0);
      expect(state.cookie).toBe(await server.version());
      expect(Object.fromEntries((await a.query({ type: 'tally' })).map((r) => [r.id, r.data]))).toEqual({ t0: { n: 4 }, t1: { n: 3 }, t2: { n: 3 } });
      if (old) {
        // No `more`: the page that acknowledged the writes, then one that finds nothing new (sent ahead).
        expect(c.answers.map((r) => r.more)).toEqual([undefined, undefined]);
        expect(c.ahead()).toBe(2);
      } else {
        expect(c.answers.map((r) => r.more)).toEqual([false]);
        // Nothing sent ahead either: the first sync's bootstrap and this page both said they were the last.
        expect(c.ahead()).toBe(0);
      }
      await a.close();
    }
  });

  it('pages through the log while `more` is true, and ends at the server state without a confirming pull', async () => {
    const server = await openServer(dbs.serverDb, { pageSize: 2 });
    const writer = await openClient(dbs.clientDb, switchableTransport(() => server));
    const c = counted(switchableTransport(() => server));
    const reader = await openClient(dbs.clientDb, c.t);
    await writer.upsert('doc', 'seed', { v: 0 });
    await writer.sync();
    await reader.sync();
    c.answers.length = 0;
    // Seven commits (one push each): pages of two versions, the last of one.
    for (let i = 0; i < 7; i++) {
      await writer.upsert('doc', `d${i}`, { v: i });
      await writer.sync();
    }
    await reader.sync();
    expect(c.answers.map((r) => [r.cookie.order, r.more])).toEqual([[3, true], [5, true], [7, true], [8, false]]);
    expect(await reader.visibleEntities()).toEqual(await server.readEntities());
    // The last page's request was sent ahead of it; nothing after it.
    expect(c.ahead()).toBe(3);
    await Promise.all([writer.close(), reader.close()]);
  });

  it('goes on through a staged bootstrap (`more` on every staged page) and the log after the horizon', async () => {
    const server = await createSyncServer({ clock, pageBytes: 300 });
    const writer = await PersistentSyncEngine.open({ db: dbs.clientDb, schema: 'more_w', transport: localTransport(server), ids, clock, clientGroupID: 'gw-more' });
    for (let i = 0; i < 12; i++) await writer.upsert('doc', `d${i}`, { i, text: `document ${i}, a few words of text` });
    await writer.sync();
    const horizon = (await server.database.compact({ keepVersions: 0 })).horizon;
    for (let i = 0; i < 3; i++) await writer.upsert('doc', `e${i}`, { i });
    await writer.sync();
    const c = counted(localTransport(server));
    const fresh = await PersistentSyncEngine.open({ db: dbs.clientDb, schema: 'more_f', transport: c.t, ids, clock, clientGroupID: 'gf-more' });
    await fresh.sync();
    const staged = c.answers.filter((r) => r.cookie.stage !== undefined);
    expect(staged.length).toBeGreaterThanOrEqual(2);
    for (const r of staged) expect(r.more).toBe(true);
    const rest = c.answers.slice(staged.length);
    // The base's last page (at the horizon, the log after it still to come), then the log.
    expect(rest[0]!.cookie.order).toBe(horizon);
    expect(rest[0]!.more).toBe(true);
    expect(rest[rest.length - 1]!.more).toBe(false);
    expect(rest.slice(1, -1).every((r) => r.more === true)).toBe(true);
    expect(await fresh.visibleEntities()).toEqual(await server.database.readEntities());
    expect((await fresh.getState()).cookie).toBe(await server.database.version());
    await Promise.all([writer.close(), fresh.close()]);
    await server.close();
  });
});
