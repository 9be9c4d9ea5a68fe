/**
 * The demo's token handling against real HTTP servers: registers once, registers again when a
 * server does not know the token (401, e.g. a wiped database), and reports a lost token (409:
 * the group is bound to a token this client no longer has) so the demo can move to a new group.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LostTokenError, TokenKeeper } from '../src/app/demo/token-keeper.ts';
import { fetchTransport } from '../src/engine/transports/fetch-json.ts';
import type { SyncServer } from '../src/server/index.ts';
import { newServer, startApiServer } from './support/http-server.ts';

class MemoryStorage {
  readonly map = new Map<string, string>();
  getItem(k: string) { return this.map.get(k) ?? null; }
  setItem(k: string, v: string) { this.map.set(k, v); }
  removeItem(k: string) { this.map.delete(k); }
}

const pull = (g: string) => ({ pullVersion: 1 as const, clientGroupID: g, cookie: null, profileID: 'p', schemaVersion: '1' });

describe('TokenKeeper', () => {
  const servers: SyncServer[] = [];
  const bases: string[] = [];
  const closers: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      const server = await newServer();
      const s = await startApiServer(server);
      servers.push(server);
      bases.push(s.base);
      closers.push(() => s.http.close(true));
    }
  });
  afterAll(async () => {
    for (const c of closers) await c();
    for (const s of servers) await s.close();
  });
  const registerAt = (i: () => number) => (group: string) => fetch(`${bases[i()]}/api/register`, { method: 'POST', body: JSON.stringify({ clientGroupID: group }) });

  it('registers once and keeps the token', async () => {
    const storage = new MemoryStorage();
    const keeper = new TokenKeeper('g-keep', () => {}, registerAt(() => 0), storage);
    const t = await keeper.get();
    expect(storage.getItem('lockstep-token:g-keep')).toBe(t);
    expect(await new TokenKeeper('g-keep', () => {}, registerAt(() => 0), storage).get()).toBe(t);
  });

  it('registers again and retries when the server answers 401 (it lost the token)', async () => {
    const storage = new MemoryStorage();
    let at = 0;
    const keeper = new TokenKeeper('g-wiped', () => {}, registerAt(() => at), storage);
    const first = await keeper.get();
    // The "same" server comes back without our token: requests now go to the second one.
    at = 1;
    const transport = keeper.wrap(fetchTransport({ baseURL: '', token: () => keeper.get(), fetch: (url, init) => fetch(`${bases[at]}${url}`, init) }));
    const r = await transport.pull(pull('g-wiped'));
    expect(r.cookie).toBeDefined();
    expect(await keeper.get()).not.toBe(first);
  });

  it('reports a lost token (409 on register) instead of failing forever', async () => {
    const storage = new MemoryStorage();
    await new TokenKeeper('g-lost', () => {}, registerAt(() => 0), storage).get();
    storage.map.clear();
    let lost = 0;
    const keeper = new TokenKeeper('g-lost', () => lost++, registerAt(() => 0), storage);
    await expect(keeper.get()).rejects.toBeInstanceOf(LostTokenError);
    expect(lost).toBe(1);
  });
});
