/**
 * The group token's registration: one at a time, backoff after a failure, a lost token (409)
 * reported once. A fake register answers like the server's /api/register: the first registration
 * of a group binds it, any later one is 409.
 */
import { describe, expect, it } from 'vitest';
import { ProtocolError, TransportError } from '../../protocol/index.ts';
import { GroupToken, LostTokenError } from './group-token.ts';
import { MemoryStorage } from '../../../test/support/memory-storage.ts';


/** A server's register: binds a group to its first token; `fail` makes the next answers 503. */
function fakeServer() {
  const bound = new Map<string, string>();
  const s = {
    requests: 0,
    fail: 0,
    register: async (group: string): Promise<Response> => {
      s.requests++;
      // An answer takes a while, so that callers overlap.
      await new Promise((r) => setTimeout(r, 5));
      if (s.fail > 0) {
        s.fail--;
        return Response.json({ error: 'Unavailable', message: 'down' }, { status: 503 });
      }
      if (bound.has(group)) return Response.json({ error: 'Conflict', message: 'taken' }, { status: 409 });
      const token = `t-${bound.size + 1}`;
      bound.set(group, token);
      return Response.json({ token });
    },
  };
  return s;
}

function keeper(server: ReturnType<typeof fakeServer>, o: { storage?: MemoryStorage; now?: () => number; onLost?: () => void } = {}) {
  return new GroupToken({
    clientGroupID: 'g1',
    register: server.register,
    storage: o.storage ?? new MemoryStorage(),
    onLost: o.onLost ?? (() => {}),
    clock: { now: o.now ?? (() => 0) },
    random: { next: () => 0.5 },
    backoffBaseMs: 1_000,
    backoffMaxMs: 8_000,
  });
}

describe('GroupToken', () => {
  it('callers asking at once (push, pull, poke stream) share one registration, and nobody sees a lost token', async () => {
    const server = fakeServer();
    let lost = 0;
    const k = keeper(server, { onLost: () => lost++ });
    const tokens = await Promise.all([k.get(), k.get(), k.get()]);
    expect(server.requests).toBe(1);
    expect(new Set(tokens)).toEqual(new Set(['t-1']));
    expect(lost).toBe(0);
  });

  it('a caller that joins the registration in flight waits through the join seam (the simulator\'s scheduler must see that wait), refresh too', async () => {
    const server = fakeServer();
    const joined: string[] = [];
    const k = new GroupToken({
      clientGroupID: 'g1', register: server.register, storage: new MemoryStorage(), onLost: () => {},
      join: (p) => (joined.push('join'), p),
    });
    const first = k.get();
    const [a, b] = await Promise.all([first, k.get(), k.refresh()]);
    expect([a, b]).toEqual(['t-1', 't-1']);
    expect(server.requests).toBe(1);
    // The second get and the refresh joined; the first registered.
    expect(joined).toEqual(['join', 'join']);
  });

  it('a 409 is reported once, and later requests fail at once without registering again', async () => {
    const server = fakeServer();
    await keeper(server).get(); // another browser (or this one before it lost its storage) holds the group
    let lost = 0;
    const k = keeper(server, { onLost: () => lost++ });
    await expect(k.get()).rejects.toBeInstanceOf(LostTokenError);
    await expect(Promise.all([k.get(), k.get()])).rejects.toBeInstanceOf(LostTokenError);
    expect(lost).toBe(1);
    expect(k.isLost).toBe(true);
    expect(server.requests).toBe(2);
  });

  it('backs off after a failed registration: no request until the jittered wait has passed, doubling up to the cap', async () => {
    const server = fakeServer();
    let now = 0;
    const k = keeper(server, { now: () => now });
    server.fail = 3;
    await expect(k.get()).rejects.toThrow('register failed (503)');
    // base 1000 ms, jitter 0.5 + 0.5/2 = 0.75: 750 ms.
    now = 749;
    await expect(k.get()).rejects.toThrow(/backing off 1 ms after register failed \(503\)/);
    expect(server.requests).toBe(1);
    now = 750;
    await expect(k.get()).rejects.toThrow('register failed (503)');
    expect(server.requests).toBe(2);
    now += 1_499; // second failure: 2000 * 0.75
    await expect(k.get()).rejects.toBeInstanceOf(TransportError);
    expect(server.requests).toBe(2);
    now += 1;
    await expect(k.get()).rejects.toThrow('register failed (503)');
    now += 3_000;
    expect(await k.get()).toBe('t-1');
    expect(server.requests).toBe(4);
  });

  it('a clock that jumped back does not stretch the backoff past its cap', async () => {
    const server = fakeServer();
    let now = 1_000_000;
    const k = keeper(server, { now: () => now });
    server.fail = 1;
    await expect(k.get()).rejects.toThrow('register failed (503)');
    now = 0;
    expect(await k.get()).toBe('t-1');
  });

  it('keeps the token in storage, forgets it on a 401 and registers again (a lost database)', async () => {
    const server = fakeServer();
    const storage = new MemoryStorage();
    const k = keeper(server, { storage });
    expect(await k.get()).toBe('t-1');
    expect(storage.getItem('lockstep-token:g1')).toBe('t-1');
    expect(await keeper(server, { storage }).get()).toBe('t-1');
    expect(server.requests).toBe(1);
    let calls = 0;
    const t = k.wrap({
      // As fetchTransport does: the token first, then the request.
      push: async () => {
        await k.get();
        if (calls++ === 0) throw new ProtocolError(401, { error: 'Unauthorized', message: 'unknown token' } as never);
        return {};
      },
      pull: async () => {
        throw new Error('unused');
      },
    });
    // The fake server still binds g1, so the second registration is 409: a lost token.
    await expect(t.push({ pushVersion: 1, clientGroupID: 'g1', mutations: [], profileID: 'p', schemaVersion: '1' })).rejects.toBeInstanceOf(LostTokenError);
    expect(storage.getItem('lockstep-token:g1')).toBeNull();
  });

  it('wrap keeps the page asked for ahead (pipelined catch-up), and a 401 on it is asked again as a pull with a new token', async () => {
    const server = fakeServer();
    const storage = new MemoryStorage();
    storage.setItem('lockstep-token:g1', 'stale'); // the server lost it (a restored database)
    const k = keeper(server, { storage });
    const seen: string[] = [];
    const answer = async (how: string) => {
      const token = await k.get();
      seen.push(`${how} ${token}`);
      if (token === 'stale') throw new ProtocolError(401, { error: 'Unauthorized', message: 'unknown token' } as never);
      return { cookie: null, lastMutationIDChanges: {}, patch: [] } as never;
    };
    const inner = { push: async () => ({}), pull: () => answer('pull') };
    expect(k.wrap(inner).pullAhead).toBeUndefined();
    const t = k.wrap({ ...inner, pullAhead: () => {
      const r = answer('ahead');
      r.catch(() => undefined);
      return { response: () => r };
    } });
    const req = { pullVersion: 1, clientGroupID: 'g1', cookie: null, profileID: 'p', schemaVersion: '1' } as never;
    await expect(t.pullAhead!(req).response()).resolves.toMatchObject({ patch: [] });
    expect(seen).toEqual(['ahead stale', 'pull t-1']);
    expect(storage.getItem('lockstep-token:g1')).toBe('t-1');
  });

  it('refresh after a reset: a 409 means the server still knows the group, so the token stays', async () => {
    const server = fakeServer();
    let lost = 0;
    const k = keeper(server, { onLost: () => lost++ });
    const t = await k.get();
    await k.refresh();
    expect(server.requests).toBe(2);
    expect(await k.get()).toBe(t);
    expect(lost).toBe(0);
  });
});

/**
 * /api/register as the server answers it now: a proposed token binds the group, the same token
 * again is 200, another is 409; without a proposal it issues one. `loseAnswers` makes the next
 * answers get lost after the server handled them (a dropped response, a client crash).
 */
function idempotentServer() {
  const bound = new Map<string, string>();
  const s = {
    requests: 0,
    loseAnswers: 0,
    proposals: [] as (string | undefined)[],
    register: async (group: string, proposed?: string): Promise<Response> => {
      s.requests++;
      s.proposals.push(proposed);
      await new Promise((r) => setTimeout(r, 5));
      const token = proposed ?? `issued-${s.requests}`;
      const have = bound.get(group);
      const res = have === undefined || have === token ? Response.json({ token }) : Response.json({ error: 'Conflict' }, { status: 409 });
      if (have === undefined) bound.set(group, token);
      if (s.loseAnswers > 0) {
        s.loseAnswers--;
        throw new TypeError('fetch failed: connection reset');
      }
      return res;
    },
  };
  return s;
}

describe('GroupToken idempotent registration', () => {
  let n = 0;
  const ids = { newId: (p: string) => `${p}-${String(++n).padStart(32, '0')}` };
  const make = (server: ReturnType<typeof idempotentServer>, storage: MemoryStorage, onLost: () => void, now = () => 0) =>
    new GroupToken({ clientGroupID: 'g1', register: server.register, storage, onLost, ids, clock: { now }, random: { next: () => 0.5 }, backoffBaseMs: 1_000, backoffMaxMs: 8_000 });

  it('a registration whose answer was lost is retried with the same token: same token, no onLost', async () => {
    const server = idempotentServer();
    let lost = 0;
    let t = 0;
    const k = make(server, new MemoryStorage(), () => lost++, () => t);
    server.loseAnswers = 1;
    await expect(k.get()).rejects.toThrow(/register failed: fetch failed/);
    t += 10_000;
    const token = await k.get();
    expect(server.proposals).toEqual([token, token]);
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(lost).toBe(0);
    expect(k.isLost).toBe(false);
  });

  it('the proposal is stored before sending, so a client that crashed mid-registration proposes it again', async () => {
    const server = idempotentServer();
    const storage = new MemoryStorage();
    let lost = 0;
    server.loseAnswers = 1;
    await expect(make(server, storage, () => lost++).get()).rejects.toThrow();
    // A new page (or a restarted simulated client) with the same storage.
    const token = await make(server, storage, () => lost++).get();
    expect(server.proposals).toEqual([token, token]);
    expect(storage.map.get('lockstep-token:g1')).toBe(token);
    expect(lost).toBe(0);
  });

  it('a duplicated registration (two requests, same token) binds once and both succeed', async () => {
    const server = idempotentServer();
    const storage = new MemoryStorage();
    const [a, b] = await Promise.all([make(server, storage, () => {}).get(), make(server, storage, () => {}).get()]);
    expect(a).toBe(b);
    expect(server.requests).toBe(2);
  });

  it('a cleared storage proposes a new token: 409, onLost once (the group is bound to the old one)', async () => {
    const server = idempotentServer();
    const storage = new MemoryStorage();
    await make(server, storage, () => {}).get();
    storage.map.clear();
    let lost = 0;
    await expect(make(server, storage, () => lost++).get()).rejects.toBeInstanceOf(LostTokenError);
    expect(lost).toBe(1);
  });

  it('takes the token the server answers when it ignores the proposal (an older server)', async () => {
    const storage = new MemoryStorage();
    const old = async () => Response.json({ token: 'server-issued' });
    const k = new GroupToken({ clientGroupID: 'g1', register: old, storage, onLost: () => {}, ids });
    expect(await k.get()).toBe('server-issued');
    expect(storage.map.get('lockstep-token:g1')).toBe('server-issued');
  });
});
