/**
 * The group token's registration: one at a time, backoff after a failure, a lost token (409)
 * reported once. A fake register answers like the server's /api/register: the first registration
 * of a group binds it, any later one is 409.
 */
import { describe, expect, it } from 'vitest';
import { ProtocolError, TransportError } from '../../protocol/index.ts';
import { GroupToken, LostTokenError } from './group-token.ts';

class MemoryStorage {
  readonly map = new Map<string, string>();
  getItem(k: string) {
    return this.map.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.map.set(k, v);
  }
  removeItem(k: string) {
    this.map.delete(k);
  }
}

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
