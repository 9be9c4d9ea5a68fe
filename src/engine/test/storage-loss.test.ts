import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProtocolError } from '../../protocol/index.ts';
import type { ServerDatabase } from '../../server/index.ts';
import type { ResetEvent } from '../index.ts';
import { rebaseCheck } from '../simulation.ts';
import { copyServerSchema, openClient, openDbs, openServer, switchableTransport } from './world.ts';

let dbs: Awaited<ReturnType<typeof openDbs>>;
beforeAll(async () => {
  dbs = await openDbs();
});
afterAll(async () => dbs.close());

const keys = (m: Map<string, unknown>) => [...m.keys()];

describe('the server loses its storage', () => {
  it('after a wipe, the client starts over with a new id, re-sends its pending mutations and never shows a mixed state', async () => {
    const old = await openServer(dbs.serverDb);
    let server: ServerDatabase = old;
    const seenAtFirstPull: Map<string, unknown>[] = [];
    let a: Awaited<ReturnType<typeof openClient>> | undefined;
    const transport = switchableTransport(() => server, {
      // The visible state when the first pull of the new database leaves: still the old one.
      pull: async (req) => {
        if (req.cookie === null && server !== old && a) seenAtFirstPull.push(await a.visibleEntities());
      },
    });
    a = await openClient(dbs.clientDb, transport);
    const resets: ResetEvent[] = [];
    a.onReset((e) => resets.push(e));
    await a.upsert('comment', 'old1', { v: 1 });
    await a.upsert('comment', 'old2', { v: 1 });
    await a.sync();
    const oldID = a.clientID;

    // The database is wiped (a new one, a new epoch) while the client has two writes pending.
    const fresh = await openServer(dbs.serverDb);
    const other = await openClient(dbs.clientDb, switchableTransport(() => fresh));
    await other.upsert('comment', 'new', { v: 9 });
    await other.sync();
    await a.upsert('comment', 'p1', { v: 2 });
    await a.increment('review', 'r', 'votes', 3);
    const before = await a.visibleEntities();
    server = fresh;

    await a.sync();
    expect(a.clientID).not.toBe(oldID);
    // The push goes first: the new database does not know this client, whose ids are past 1.
    expect(resets).toEqual([{ previousClientID: oldID, clientID: a.clientID, reason: 'push', requeued: [{ from: 3, to: 1 }, { from: 4, to: 2 }] }]);
    expect((await a.getState()).lastReset).toEqual({ previousClientID: oldID, clientID: a.clientID, reason: 'push' });
    expect(seenAtFirstPull).toEqual([before]);
    // Converged with the new database: its data plus the re-sent writes; nothing of the old one.
    expect(keys(await fresh.readEntities())).toEqual(['comment/new', 'comment/p1', 'review/r']);
    expect(await a.visibleEntities()).toEqual(await fresh.readEntities());
    expect((await a.getState()).pendingCount).toBe(0);
    expect((await fresh.readLog()).filter((l) => l.clientID === a.clientID).map((l) => l.mutationID)).toEqual([1, 2]);
    // The same client group: the app keeps its group and re-registers its token.
    expect((await fresh.readClients()).find((c) => c.clientID === a.clientID)?.clientGroupID).toBe(a.clientGroupID);
  });

  it('handles ClientStateNotFound from a push the same way', async () => {
    const old = await openServer(dbs.serverDb);
    const fresh = await openServer(dbs.serverDb);
    let server = old;
    let firstID = '';
    const a = await openClient(dbs.clientDb, switchableTransport(() => server, {
      // The server answers a push of a client it does not know and that is ahead with ClientStateNotFound.
      push: async (req, send) => {
        if (server === fresh && req.mutations[0]!.clientID === firstID) throw new ProtocolError(200, { error: 'ClientStateNotFound' });
        return send(req);
      },
    }));
    firstID = a.clientID;
    const resets: ResetEvent[] = [];
    a.onReset((e) => resets.push(e));
    await a.upsert('comment', 'x', { v: 1 });
    await a.sync();
    await a.upsert('comment', 'y', { v: 2 });
    server = fresh;
    await a.sync();
    expect(resets.map((r) => r.reason)).toEqual(['push']);
    expect(await fresh.readEntities()).toEqual(new Map([['comment/y', { v: 2 }]]));
    expect(await a.visibleEntities()).toEqual(await fresh.readEntities());
    expect((await a.getState()).pendingCount).toBe(0);
  });

  it('after a restore from an earlier backup, converges with the restored database and re-sends what it lost', async () => {
    const live = await openServer(dbs.serverDb);
    let server: ServerDatabase = live;
    const a = await openClient(dbs.clientDb, switchableTransport(() => server));
    const b = await openClient(dbs.clientDb, switchableTransport(() => server));
    await a.upsert('comment', 'x1', { v: 1 });
    await a.sync();
    await b.upsert('comment', 'y', { v: 1 });
    await b.sync();
    const backup = await copyServerSchema(dbs.serverDb, live); // at version 2, same epoch
    await a.upsert('comment', 'x2', { v: 2 });
    await a.sync(); // a is now at version 3, past the backup
    await a.upsert('comment', 'x3', { v: 3 }); // pending
    server = backup;
    const oldID = a.clientID;
    await a.sync();
    expect(a.clientID).not.toBe(oldID);
    // x2 was acknowledged by the lost history: gone with it. x3 was pending: re-sent.
    expect(keys(await backup.readEntities())).toEqual(['comment/x1', 'comment/x3', 'comment/y']);
    expect(await a.visibleEntities()).toEqual(await backup.readEntities());
    expect((await a.getState()).pendingCount).toBe(0);
    await b.sync();
    expect(await b.visibleEntities()).toEqual(await backup.readEntities());
  });

  it('changes identity in one transaction: a failure mid-way leaves the old identity and queue', async () => {
    const server = await openServer(dbs.serverDb);
    const a = await openClient(dbs.clientDb, switchableTransport(() => server));
    await a.upsert('comment', 'p', { v: 1 });
    await a.upsert('comment', 'q', { v: 2 });
    const before = await a.store.readMeta();
    const pendingBefore = await a.pendingMutations();
    // A clientID the meta table cannot take (NOT NULL) fails the last statement of the reset.
    await expect(a.store.resetIdentity(null as unknown as string)).rejects.toThrow();
    expect(await a.store.readMeta()).toEqual(before);
    expect(await a.pendingMutations()).toEqual(pendingBefore);
    const reset = await a.store.resetIdentity('c-new');
    expect(reset.requeued).toEqual([{ from: 1, to: 1 }, { from: 2, to: 2 }]);
    expect((await a.pendingMutations()).map((m) => [m.clientID, m.id, m.args])).toEqual(pendingBefore.map((m, i) => ['c-new', i + 1, m.args]));
    const { expected, visible } = await rebaseCheck(a.store);
    expect(visible).toEqual(expected);
  });
});
