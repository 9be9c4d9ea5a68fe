import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProtocolError, type PushRequest } from '../../protocol/index.ts';
import { ServerDatabase } from '../../server/index.ts';
import { uniqueSchema } from '../../../test/support/stores.ts';
import { clock, ids, openClient, openDbs, switchableTransport } from './world.ts';

let dbs: Awaited<ReturnType<typeof openDbs>>;
beforeAll(async () => {
  dbs = await openDbs();
});
afterAll(async () => dbs.close());

/** A real server whose push budget is one mutation per push. */
const budgetOfOne = () => ServerDatabase.open(dbs.serverDb, { clock, ids, schema: uniqueSchema('srv'), limits: { maxMutationsPerPush: 1 } });

describe('a push cut short by the server\'s push budget', () => {
  it('is continued at once: one sync drains the backlog, one mutation per push', async () => {
    const server = await budgetOfOne();
    const sent: number[][] = [];
    const a = await openClient(dbs.clientDb, switchableTransport(() => server, {
      push: (req, send) => (sent.push(req.mutations.map((m) => m.id)), send(req)),
    }));
    for (let i = 0; i < 4; i++) await a.upsert('comment', `c${i}`, { i });
    await a.sync();
    expect((await a.getState()).pendingCount).toBe(0);
    expect(sent).toEqual([[1, 2, 3, 4], [2, 3, 4], [3, 4], [4]]);
  });

  // A 429 comes from the HTTP layer before the database: it says nothing about what the server
  // holds, so the next push starts after what the server acknowledged instead of resending it.
  it('after a 429, resumes after what the server acknowledged', async () => {
    const server = await budgetOfOne();
    const sent: number[][] = [];
    let requests = 0;
    const a = await openClient(dbs.clientDb, switchableTransport(() => server, {
      push: async (req: PushRequest, send) => {
        sent.push(req.mutations.map((m) => m.id));
        if (++requests === 3) throw new ProtocolError(429, { error: 'BadRequest', message: 'too many sync requests for this token; retry in 1 s' });
        return send(req);
      },
      // The pull is rate-limited too, so nothing confirms the acknowledged mutations in between.
      pull: () => {
        if (requests === 3) throw new ProtocolError(429, { error: 'BadRequest', message: 'too many sync requests for this token; retry in 1 s' });
      },
    }));
    for (let i = 0; i < 4; i++) await a.upsert('comment', `c${i}`, { i });
    await expect(a.sync()).rejects.toThrow(/too many sync requests/);
    await a.sync();
    expect((await a.getState()).pendingCount).toBe(0);
    expect(sent).toEqual([[1, 2, 3, 4], [2, 3, 4], [3, 4], [3, 4], [4]]);
  });

  it('a push answered 429 with Retry-After ends the sync there: no pull into the same limit', async () => {
    const server = await budgetOfOne();
    let pulls = 0;
    let limited = true;
    const a = await openClient(dbs.clientDb, switchableTransport(() => server, {
      push: async (req: PushRequest, send) => {
        if (limited) throw Object.assign(new ProtocolError(429, { error: 'BadRequest', message: 'too many sync requests for this token; retry in 1 s' }), { retryAfterMs: 1_000 });
        return send(req);
      },
      pull: () => void pulls++,
    }));
    await a.upsert('comment', 'c0', { i: 0 });
    await expect(a.sync()).rejects.toThrow(/too many sync requests/);
    expect(pulls).toBe(0);
    limited = false;
    await a.sync();
    expect(pulls).toBeGreaterThan(0);
    expect((await a.getState()).pendingCount).toBe(0);
  });
});
