import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerDatabase } from '../../server/index.ts';
import { openClient, openDbs, openServer, switchableTransport } from './world.ts';

let dbs: Awaited<ReturnType<typeof openDbs>>;
beforeAll(async () => {
  dbs = await openDbs();
});
afterAll(async () => dbs.close());

describe('a push acknowledged by a database that is then restored to before it', () => {
  it('is sent again once a full pull shows the server does not hold it (chaos seed 16: stuck pending forever)', async () => {
    const old = await openServer(dbs.serverDb);
    let server: ServerDatabase = old;
    const a = await openClient(dbs.clientDb, switchableTransport(() => server));
    await a.increment('tally', 't0', 'n', 2);
    // The push is acknowledged (the engine's next push would start after it) before any pull.
    expect(await a.push()).toBe(1);
    // Restored to a backup from before the client's first push: the database does not know it.
    const restored = await openServer(dbs.serverDb);
    server = restored;
    await a.sync();
    await a.sync();
    // The full pull said the server holds nothing of this client: the write is sent again.
    expect((await restored.readLog()).map((e) => [e.clientID, e.mutationID])).toEqual([[a.clientID, 1]]);
    expect((await a.getState()).pendingCount).toBe(0);
    expect(await a.visibleEntities()).toEqual(await restored.readEntities());
  });
});
