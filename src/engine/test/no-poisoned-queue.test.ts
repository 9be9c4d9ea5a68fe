import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodedBytes, ProtocolError, type PushRequest } from '../../protocol/index.ts';
import { MutationRejectedError, type MutationFailure } from '../index.ts';
import { openClient, openDbs, openServer, switchableTransport } from './world.ts';

let dbs: Awaited<ReturnType<typeof openDbs>>;
beforeAll(async () => {
  dbs = await openDbs();
});
afterAll(async () => dbs.close());

/** What the HTTP layer does with a body over 1 MB: 413, every time. */
const bodyLimit = (req: PushRequest) => {
  if (encodedBytes(req) > 1024 * 1024) throw new ProtocolError(413, { error: 'BadRequest', message: 'request body over 1 MB' });
};

describe('a write the server would refuse never wedges the client', () => {
  it('refuses a 1.05 MB comment in mutate, before queuing it', async () => {
    const server = await openServer(dbs.serverDb);
    const a = await openClient(dbs.clientDb, switchableTransport(() => server));
    const body = 'x'.repeat(1_050_000);
    await expect(a.upsert('comment', 'big', { body })).rejects.toThrow(MutationRejectedError);
    await expect(a.upsert('comment', 'big', { body })).rejects.toThrow(/args \d+ bytes encoded, over the limit of 307200/);
    // Args under their limit, but the document it writes over the document limit (256 KiB).
    await expect(a.upsert('comment', 'big', { body: 'x'.repeat(270_000) })).rejects.toThrow(/document comment\/big: \d+ bytes encoded, over the limit of 262144/);
    // Not storable: a lone surrogate and a NUL byte are refused too, naming the field.
    await expect(a.upsert('comment', 'bad', { body: '\ud83d' })).rejects.toThrow(/data\.body: must be well-formed Unicode/);
    await expect(a.upsert('comment', 'bad', { body: 'a\u0000b' })).rejects.toThrow(/NUL/);
    await expect(a.upsert('comment', 'bad', JSON.parse('{"__proto__": {"x": 1}}'))).rejects.toThrow(/the key "__proto__" is not allowed/);
    let deep: unknown = 1;
    for (let i = 0; i < 3000; i++) deep = [deep];
    await expect(a.upsert('comment', 'bad', { deep } as never)).rejects.toThrow(/nested deeper than 64 levels/);
    expect((await a.getState()).pendingCount).toBe(0);
    expect(await a.visibleEntities()).toEqual(new Map());
  });

  it('takes its limits from EngineOptions and checks them at open', async () => {
    const server = await openServer(dbs.serverDb);
    const a = await openClient(dbs.clientDb, switchableTransport(() => server), { limits: { maxArgsBytes: 1000 } });
    await expect(a.upsert('comment', 'c', { body: 'x'.repeat(2000) })).rejects.toThrow(/over the limit of 1000/);
    await a.upsert('comment', 'c', { body: 'short' });
    await expect(openClient(dbs.clientDb, switchableTransport(() => server), { maxPushBytes: 0 })).rejects.toThrow(/maxPushBytes/);
    await expect(openClient(dbs.clientDb, switchableTransport(() => server), { pushBatchSize: 5000 })).rejects.toThrow(/pushBatchSize/);
  });

  it('fails an increment that overflows instead of storing null', async () => {
    const server = await openServer(dbs.serverDb);
    const a = await openClient(dbs.clientDb, switchableTransport(() => server));
    await a.upsert('review', 'r', { votes: Number.MAX_VALUE });
    await expect(a.increment('review', 'r', 'votes', Number.MAX_VALUE)).rejects.toThrow(/not a finite number/);
    expect(await a.get('review', 'r')).toEqual({ votes: Number.MAX_VALUE });
  });

  it('sends 100 offline edits of 11 KB each in several pushes under the byte limit', async () => {
    const server = await openServer(dbs.serverDb);
    const sizes: number[] = [];
    let online = false;
    const a = await openClient(dbs.clientDb, switchableTransport(() => server, {
      online: () => online,
      push: (req, send) => {
        sizes.push(encodedBytes(req));
        bodyLimit(req);
        return send(req);
      },
    }));
    for (let i = 0; i < 100; i++) await a.upsert('comment', `c${i}`, { body: 'x'.repeat(11_000) });
    online = true;
    await a.sync();
    expect(sizes.length).toBeGreaterThan(1);
    for (const s of sizes) expect(s).toBeLessThanOrEqual(512 * 1024);
    expect((await server.readEntities()).size).toBe(100);
    expect((await a.getState()).pendingCount).toBe(0);
  });

  it('sends a single mutation bigger than maxPushBytes alone', async () => {
    const server = await openServer(dbs.serverDb);
    const counts: number[] = [];
    const a = await openClient(dbs.clientDb, switchableTransport(() => server, { push: (req, send) => (counts.push(req.mutations.length), send(req)) }), { maxPushBytes: 5_000 });
    await a.upsert('comment', 'small1', { body: 'x' });
    await a.upsert('comment', 'big', { body: 'x'.repeat(8_000) });
    await a.upsert('comment', 'small2', { body: 'x' });
    await a.sync();
    expect(counts).toEqual([1, 1, 1]);
    expect((await server.readEntities()).size).toBe(3);
  });

  it('keeps receiving the others\' changes while its own push keeps failing, and reports the push error', async () => {
    const server = await openServer(dbs.serverDb);
    const a = await openClient(dbs.clientDb, switchableTransport(() => server, {
      push: async () => {
        throw new ProtocolError(413, { error: 'BadRequest', message: 'request body over 1 MB' });
      },
    }));
    const b = await openClient(dbs.clientDb, switchableTransport(() => server));
    await a.upsert('comment', 'mine', { v: 1 });
    await b.upsert('comment', 'theirs', { v: 2 });
    await b.sync();
    await expect(a.sync()).rejects.toThrow(/over 1 MB/);
    expect(await a.get('comment', 'theirs')).toEqual({ v: 2 });
    expect(await a.get('comment', 'mine')).toEqual({ v: 1 });
    expect((await a.getState()).cookie).toBe(await server.version());
  });

  it('resends what a push cut short did not get to (lastMutationIDs)', async () => {
    const server = await openServer(dbs.serverDb);
    // A server with a work budget of 2 mutations per push, answering how far it got.
    const a = await openClient(dbs.clientDb, switchableTransport(() => server, {
      push: async (req, send) => {
        const part = { ...req, mutations: req.mutations.slice(0, 2) };
        await send(part);
        return { lastMutationIDs: { [req.mutations[0]!.clientID]: part.mutations.at(-1)!.id } };
      },
    }));
    for (let i = 0; i < 5; i++) await a.upsert('comment', `c${i}`, { i });
    await a.sync();
    expect((await server.readEntities()).size).toBe(5);
    expect((await a.getState()).pendingCount).toBe(0);
  });

  it('stops pushing when the server makes no progress instead of looping', async () => {
    const server = await openServer(dbs.serverDb);
    let pushes = 0;
    const a = await openClient(dbs.clientDb, switchableTransport(() => server, {
      push: async (req) => (pushes++, { lastMutationIDs: { [req.mutations[0]!.clientID]: 0 } }),
    }));
    await a.upsert('comment', 'c', { v: 1 });
    await expect(a.sync()).rejects.toThrow(/no progress/);
    expect(pushes).toBe(1);
  });

  it('reports mutations the server recorded as failed to onMutationError and the sync state', async () => {
    const server = await openServer(dbs.serverDb);
    const a = await openClient(dbs.clientDb, switchableTransport(() => server, {
      push: async (req, send) => {
        const r = await send(req);
        return { ...r, failed: [{ clientID: req.mutations[0]!.clientID, id: req.mutations[0]!.id, error: 'document too large' }] };
      },
    }));
    const failures: MutationFailure[] = [];
    a.onMutationError((f) => failures.push(f));
    const states: (string | null)[] = [];
    a.onStateChange((s) => states.push(s.lastError));
    await a.upsert('comment', 'c', { v: 1 });
    await a.sync();
    expect(failures).toEqual([{ clientID: a.clientID, id: 1, name: 'upsert', error: 'document too large' }]);
    expect(states).toContain('mutation 1 (upsert) failed on the server: document too large');
    expect((await a.getState()).lastError).toBe('mutation 1 (upsert) failed on the server: document too large');
  });
});
