/**
 * Exactly once across identity changes, end to end on real server databases: a mutation the
 * server applied but whose answer was lost is re-queued under a new identity (a reset after
 * ClientStateNotFound, or a move to a new client group) carrying its earlier identities as
 * origins, and is not applied a second time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxOriginsPerMutation, TransportError, type PushRequest } from '../../protocol/index.ts';
import type { ServerDatabase } from '../../server/index.ts';
import { copyServerSchema, openClient, openDbs, openServer, switchableTransport } from './world.ts';

let dbs: Awaited<ReturnType<typeof openDbs>>;
beforeAll(async () => {
  dbs = await openDbs();
});
afterAll(async () => dbs.close());

const votes = async (s: ServerDatabase) => (await s.readEntities()).get('review/r')?.votes;

/** A transport to `target()` that, while `loseAnswers.on`, delivers pushes but loses their answers. */
function lossy(target: () => ServerDatabase, sent: PushRequest[] = []) {
  const loseAnswers = { on: false };
  const transport = switchableTransport(target, {
    push: async (req, send) => {
      sent.push(req);
      const r = await send(req);
      if (loseAnswers.on) throw new TransportError('answer lost');
      return r;
    },
  });
  return { transport, loseAnswers };
}

describe('origins: a re-queued mutation is applied once', () => {
  it('after a restore (new epoch) that kept a mutation whose answer was lost', async () => {
    const live = await openServer(dbs.serverDb);
    let server: ServerDatabase = live;
    const { transport, loseAnswers } = lossy(() => server);
    const a = await openClient(dbs.clientDb, transport);
    await a.sync();
    loseAnswers.on = true;
    await a.increment('review', 'r', 'votes', 2);
    await expect(a.push()).rejects.toThrow('answer lost');
    loseAnswers.on = false;
    expect(await votes(live)).toBe(2);
    // The operator restores a backup taken after that push, under a new epoch.
    const restored = await copyServerSchema(dbs.serverDb, live);
    await dbs.serverDb.query(`UPDATE "${restored.schema}".meta SET epoch = 'restored-epoch'`);
    server = restored;
    const oldID = a.clientID;
    await a.sync();
    expect(a.clientID).not.toBe(oldID);
    expect(await votes(restored)).toBe(2);
    expect(await a.visibleEntities()).toEqual(await restored.readEntities());
    expect((await a.getState()).pendingCount).toBe(0);
    const mine = (await restored.readLog()).filter((e) => e.clientID === a.clientID);
    expect(mine.map((e) => e.error)).toEqual([`duplicate: already processed as ${oldID}#1`]);
  });

  it('after a storage loss that a first push crossed (taken as a new client by the empty database)', async () => {
    const lost = await openServer(dbs.serverDb);
    let server: ServerDatabase = lost;
    const { transport, loseAnswers } = lossy(() => server);
    const a = await openClient(dbs.clientDb, transport);
    await a.sync();
    const fresh = await openServer(dbs.serverDb);
    server = fresh;
    loseAnswers.on = true;
    await a.increment('review', 'r', 'votes', 3);
    // The new database takes id 1 of a client it does not know; the answer is lost.
    await expect(a.push()).rejects.toThrow('answer lost');
    loseAnswers.on = false;
    expect(await votes(fresh)).toBe(3);
    await a.sync(); // the pull gets ClientStateNotFound (another epoch): reset, re-queue, re-send
    expect(await votes(fresh)).toBe(3);
    expect(await a.visibleEntities()).toEqual(await fresh.readEntities());
    expect((await a.getState()).pendingCount).toBe(0);
  });

  it('origins survive repeated resets, oldest dropped past the cap', async () => {
    const server = await openServer(dbs.serverDb);
    const a = await openClient(dbs.clientDb, switchableTransport(() => server));
    await a.increment('review', 'r', 'votes', 1);
    const first = a.clientID;
    await a.store.resetIdentity('r1');
    await a.store.resetIdentity('r2');
    expect((await a.pendingMutations()).map((m) => m.origins)).toEqual([[{ clientID: first, id: 1 }, { clientID: 'r1', id: 1 }]]);
    for (let i = 3; i <= maxOriginsPerMutation + 3; i++) await a.store.resetIdentity(`r${i}`);
    const [m] = await a.pendingMutations();
    expect(m!.origins).toHaveLength(maxOriginsPerMutation);
    expect(m!.origins!.at(-1)).toEqual({ clientID: `r${maxOriginsPerMutation + 2}`, id: 1 });
    // A mutation queued after the resets has none.
    await a.increment('review', 'r', 'votes', 1);
    expect((await a.pendingMutations())[1]!.origins).toBeUndefined();
  });

  it('a move to a new client group (lost token): adopt carries origins, the applied one is skipped, the late original too', async () => {
    const server = await openServer(dbs.serverDb);
    const sent: PushRequest[] = [];
    const { transport, loseAnswers } = lossy(() => server, sent);
    const old = await openClient(dbs.clientDb, transport);
    loseAnswers.on = true;
    await old.increment('review', 'r', 'votes', 1); // old#1: applied, answer lost
    await expect(old.push()).rejects.toThrow('answer lost');
    await old.increment('review', 'r', 'votes', 10); // old#2: never sent
    const late = await old.pendingMutations();
    loseAnswers.on = false;
    // The old group's token is gone: a new client group in a fresh store adopts the pending mutations.
    const next = await openClient(dbs.clientDb, switchableTransport(() => server));
    expect(next.clientGroupID).not.toBe(old.clientGroupID);
    for (const m of await old.pendingMutations()) await next.adopt(m);
    expect((await next.pendingMutations()).map((m) => m.origins)).toEqual([[{ clientID: old.clientID, id: 1 }], [{ clientID: old.clientID, id: 2 }]]);
    expect((await next.visibleEntities()).get('review/r')).toEqual({ votes: 11 });
    await next.sync();
    expect(await votes(server)).toBe(11);
    expect(await next.visibleEntities()).toEqual(await server.readEntities());
    // A late copy of the old client's push (still in flight when it moved) changes nothing.
    await transport.push({ ...sent[0]!, mutations: late });
    expect(await votes(server)).toBe(11);
  });

  it('adopt queues a mutation whose mutator fails on the new store (it was accepted once; the server decides)', async () => {
    const server = await openServer(dbs.serverDb);
    const next = await openClient(dbs.clientDb, switchableTransport(() => server));
    // The new store's state makes the adopted increment fail locally (a fresh store may lack what
    // the mutator reads); before the fix adopt threw and the move dropped the mutation.
    await next.upsert('review', 'r', { votes: 'many' });
    const adopted = await next.adopt({ clientID: 'c-old', id: 7, name: 'increment', args: { type: 'review', id: 'r', field: 'votes', by: 1 }, timestamp: 1_000 });
    expect(adopted.origins).toEqual([{ clientID: 'c-old', id: 7 }]);
    expect((await next.pendingMutations()).map((m) => m.name)).toEqual(['upsert', 'increment']);
    expect((await next.visibleEntities()).get('review/r')).toEqual({ votes: 'many' });
    await next.sync();
    expect(await next.pendingMutations()).toEqual([]);
  });
});
