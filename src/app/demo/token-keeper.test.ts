/**
 * The demo's token keeper: the sync loop's transport and the poke stream ask for the token at
 * the same time when the page opens. Two registrations then race: the server binds the group to
 * the first token and answers the second 409, which the demo took for a lost token and moved to
 * a new client group for nothing.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LostTokenError, TokenKeeper } from './token-keeper.ts';
import { MemoryStorage } from '../../../test/support/memory-storage.ts';


/** /api/register as the server answers it: the first registration of a group binds it, later ones get 409. */
function server() {
  const bound = new Set<string>();
  const s = {
    requests: 0,
    register: async (group: string) => {
      s.requests++;
      await new Promise((r) => setTimeout(r, 5));
      if (bound.has(group)) return Response.json({ error: 'Conflict', message: 'taken' }, { status: 409 });
      bound.add(group);
      return Response.json({ token: `token-of-${group}` });
    },
  };
  return s;
}

describe('demo TokenKeeper', () => {
  it('the transport and the poke stream opening at once register once and do not move the group', async () => {
    const s = server();
    let moves = 0;
    const keeper = new TokenKeeper('g-open', () => moves++, s.register, new MemoryStorage());
    const [forSync, forPokes] = await Promise.all([keeper.get(), keeper.get()]);
    expect(forSync).toBe('token-of-g-open');
    expect(forPokes).toBe(forSync);
    expect(s.requests).toBe(1);
    expect(moves).toBe(0);
  });

  it('a lost token moves the group once, however often the loop and the poke stream ask again', async () => {
    const s = server();
    await new TokenKeeper('g-lost', () => {}, s.register, new MemoryStorage()).get();
    let moves = 0;
    const keeper = new TokenKeeper('g-lost', () => moves++, s.register, new MemoryStorage());
    for (let i = 0; i < 5; i++) await expect(keeper.get()).rejects.toBeInstanceOf(LostTokenError);
    expect(moves).toBe(1);
    expect(s.requests).toBe(2);
  });

  afterEach(() => vi.unstubAllGlobals());

  it('the default register proposes a stored token; a lost answer is retried with it, without moving the group', async () => {
    const bodies: { clientGroupID: string; token: string }[] = [];
    let answers = 0;
    vi.stubGlobal('fetch', async (_url: string, init: RequestInit) => {
      const body = JSON.parse(init.body as string) as { clientGroupID: string; token: string };
      bodies.push(body);
      // The first answer is lost on the way back (the server did bind the group).
      if (answers++ === 0) throw new TypeError('Failed to fetch');
      return Response.json({ clientGroupID: body.clientGroupID, token: body.token });
    });
    const storage = new MemoryStorage();
    let moves = 0;
    await expect(new TokenKeeper('g-retry', () => moves++, undefined, storage).get()).rejects.toThrow(/Failed to fetch/);
    // A reload: a new keeper, same localStorage.
    const token = await new TokenKeeper('g-retry', () => moves++, undefined, storage).get();
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(bodies.map((b) => b.token)).toEqual([token, token]);
    expect(storage.getItem('lockstep-token:g-retry')).toBe(token);
    expect(moves).toBe(0);
  });
});
