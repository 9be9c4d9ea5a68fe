/**
 * The HTTP layer's doors on a real HTTP server (srvx on Node) over a real sync server (PGlite):
 * bodies are cut off while streaming, tokens are checked before bodies are read, pokes are
 * authenticated, capped, kept alive and shed slow readers, and the limits answer clear errors.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SyncApi } from '../src/server/http/api.ts';
import { httpLimitsFromEnv } from '../src/server/http/options.ts';
import { openSyncApiFromEnv, retryingOnce } from '../src/server/http/service.ts';
import type { SyncServer } from '../src/server/index.ts';
import { chunkedUpload, ManualTimer, newServer, startApiServer } from './support/http-server.ts';

const MiB = 1024 * 1024;
const push = (group: string, id: number, clientID = `${group}-c`) => ({
  pushVersion: 1, clientGroupID: group, profileID: 'p', schemaVersion: '1',
  mutations: [{ clientID, id, name: 'upsert', args: { type: 'doc', id: `d${id}`, data: { n: id } }, timestamp: 1 }],
});
const post = (base: string, path: string, body: unknown, token?: string) =>
  fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
const register = async (base: string, group: string) => ((await (await post(base, '/api/register', { clientGroupID: group })).json()) as { token: string }).token;

describe('body limits on a real HTTP server', () => {
  let server: SyncServer;
  let base: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    server = await newServer();
    const s = await startApiServer(server);
    base = s.base;
    close = () => s.http.close(true);
  });
  afterAll(async () => {
    await close();
    await server.close();
  });

  it('cuts a chunked 200 MiB upload to /api/register off near the limit with a 413', async () => {
    const r = await chunkedUpload(`${base}/api/register`, 200 * MiB);
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body)).toMatchObject({ error: 'PayloadTooLarge' });
    // The limit is 1 MB; socket buffers add a few MB at most. Reading it all would send 200 MiB.
    expect(r.sent).toBeLessThan(32 * MiB);
  });

  it('checks the token before reading a push or pull body', async () => {
    for (const path of ['/api/replicache/push', '/api/replicache/pull']) {
      const r = await chunkedUpload(`${base}${path}`, 100 * MiB, { authorization: 'Bearer bogus' });
      expect(r.status).toBe(401);
      expect(r.sent).toBeLessThan(32 * MiB);
    }
  });

  it('answers 413 to an oversized push from a valid token, by declared length or while streaming, and writes nothing', async () => {
    const token = await register(base, 'g-big');
    const before = (await server.health()).version;
    const declared = await fetch(`${base}/api/replicache/push`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: 'x'.repeat(3_000_000) });
    expect(declared.status).toBe(413);
    const streamed = await chunkedUpload(`${base}/api/replicache/push`, 50 * MiB, { authorization: `Bearer ${token}` });
    expect(streamed.status).toBe(413);
    expect(streamed.sent).toBeLessThan(32 * MiB);
    expect((await server.health()).version).toBe(before);
    // The same token still works for a normal push.
    expect((await post(base, '/api/replicache/push', push('g-big', 1), token)).status).toBe(200);
  });

  it('reads limits from the environment and names a bad variable', () => {
    expect(httpLimitsFromEnv({ LOCKSTEP_MAX_BODY_BYTES: '2048', LOCKSTEP_POKE_MAX_CONNECTIONS: '3' })).toMatchObject({ maxBodyBytes: 2048, pokeMaxConnections: 3 });
    expect(() => httpLimitsFromEnv({ LOCKSTEP_SYNC_RATE_BURST: 'lots' })).toThrow(/LOCKSTEP_SYNC_RATE_BURST/);
  });
});

describe('/api/poke', () => {
  let server: SyncServer;
  let api: SyncApi;
  let base: string;
  let token: string;
  let close: () => Promise<void>;
  const timer = new ManualTimer();
  beforeAll(async () => {
    server = await newServer();
    const s = await startApiServer(server, { limits: { pokeMaxConnections: 2, pokeBufferBytes: 200 }, timer });
    ({ api, base } = s);
    close = () => s.http.close(true);
    token = await register(base, 'g-poke');
  });
  afterAll(async () => {
    await close();
    await server.close();
  });

  it('needs a token (header or ?token=)', async () => {
    expect((await fetch(`${base}/api/poke`)).status).toBe(401);
    expect((await fetch(`${base}/api/poke?token=nope`)).status).toBe(401);
    const ok = new AbortController();
    const r = await fetch(`${base}/api/poke?token=${token}`, { signal: ok.signal });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/event-stream');
    ok.abort();
  });

  it('caps open streams with a 503 and Retry-After, and frees a slot when a client leaves', async () => {
    await expect.poll(() => api.pokes.size).toBe(0);
    const a = new AbortController();
    const b = new AbortController();
    const ra = await fetch(`${base}/api/poke?token=${token}`, { signal: a.signal });
    const rb = await fetch(`${base}/api/poke`, { headers: { authorization: `Bearer ${token}` }, signal: b.signal });
    expect([ra.status, rb.status]).toEqual([200, 200]);
    const third = await fetch(`${base}/api/poke?token=${token}`);
    expect(third.status).toBe(503);
    expect(third.headers.get('retry-after')).toBeTruthy();
    a.abort();
    await expect.poll(() => api.pokes.size).toBe(1);
    const again = new AbortController();
    expect((await fetch(`${base}/api/poke?token=${token}`, { signal: again.signal })).status).toBe(200);
    b.abort();
    again.abort();
    await expect.poll(() => api.pokes.size).toBe(0);
  });

  it('sends a heartbeat comment on the timer, and pokes after a commit', async () => {
    const leave = new AbortController();
    const res = await api.poke(new Request(`${base}/api/poke?token=${token}`, { signal: leave.signal }));
    const reader = res.body!.getReader();
    const next = async () => new TextDecoder().decode((await reader.read()).value);
    expect(await next()).toContain(': connected');
    await expect.poll(() => timer.sleepers).toBeGreaterThan(0);
    timer.fire();
    expect(await next()).toContain(': heartbeat');
    await post(base, '/api/replicache/push', push('g-poke', 1), token);
    expect(await next()).toContain('event: poke');
    leave.abort();
    await expect.poll(() => api.pokes.size).toBe(0);
  });

  it('drops a consumer that stops reading instead of queueing pokes for it', async () => {
    const res = await api.poke(new Request(`${base}/api/poke?token=${token}`));
    expect(api.pokes.size).toBe(1);
    // Nobody reads res.body: each poke (about 30 bytes) queues until the 200-byte buffer is full.
    for (let i = 2; i <= 12 && api.pokes.size > 0; i++) expect((await post(base, '/api/replicache/push', push('g-poke', i), token)).status).toBe(200);
    expect(api.pokes.size).toBe(0);
    await expect(res.text()).rejects.toThrow(/not reading/);
  });
});

describe('rate limits', () => {
  let server: SyncServer;
  let base: string;
  let close: () => Promise<void>;
  let now = 1_000_000;
  beforeAll(async () => {
    server = await newServer();
    const s = await startApiServer(server, { clock: { now: () => now }, limits: { syncBurst: 3, syncPerSecond: 0.5, registerBurst: 2, registerPerSecond: 0.1 } });
    base = s.base;
    close = () => s.http.close(true);
  });
  afterAll(async () => {
    await close();
    await server.close();
  });

  it('limits push and pull per token with 429 and Retry-After; other tokens are not affected; time refills', async () => {
    const t1 = await register(base, 'g-r1');
    const t2 = await register(base, 'g-r2');
    const pull = (g: string) => ({ pullVersion: 1, clientGroupID: g, cookie: null, profileID: 'p', schemaVersion: '1' });
    expect((await post(base, '/api/replicache/push', push('g-r1', 1), t1)).status).toBe(200);
    expect((await post(base, '/api/replicache/pull', pull('g-r1'), t1)).status).toBe(200);
    expect((await post(base, '/api/replicache/pull', pull('g-r1'), t1)).status).toBe(200);
    const limited = await post(base, '/api/replicache/push', push('g-r1', 2), t1);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect(await limited.json()).toMatchObject({ error: 'TooManyRequests' });
    expect((await post(base, '/api/replicache/pull', pull('g-r2'), t2)).status).toBe(200);
    now += 2_000;
    expect((await post(base, '/api/replicache/push', push('g-r1', 2), t1)).status).toBe(200);
  });

  it('limits registration per address', async () => {
    expect((await post(base, '/api/register', { clientGroupID: 'g-r3' })).status).toBe(429);
    now += 10_000;
    expect((await post(base, '/api/register', { clientGroupID: 'g-r3' })).status).toBe(200);
  });
});

describe('the service', () => {
  it('retries a failed database open on the next request instead of caching the failure', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-open-'));
    const blocker = join(dir, 'data');
    writeFileSync(blocker, 'not a directory');
    const get = retryingOnce(() => openSyncApiFromEnv({ LOCKSTEP_DATA_DIR: join(blocker, 'server') }));
    await expect(get()).rejects.toThrow();
    rmSync(blocker);
    const api = await get();
    expect((await (await api.health()).json()).status).toBe('ok');
    expect(await get()).toBe(api);
    await api.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('SIGTERM path: refuses new requests, drains the one in flight, then closes the database', async () => {
    const server = await newServer();
    const { api, http, base } = await startApiServer(server);
    const token = await register(base, 'g-drain');
    // A push whose body is still arriving when the shutdown starts.
    const body = JSON.stringify(push('g-drain', 1));
    let finish!: () => void;
    const gate = new Promise<void>((r) => (finish = r));
    const inFlight = fetch(`${base}/api/replicache/push`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      duplex: 'half',
      body: new ReadableStream({
        async start(c) {
          c.enqueue(new TextEncoder().encode(body.slice(0, 20)));
          await gate;
          c.enqueue(new TextEncoder().encode(body.slice(20)));
          c.close();
        },
      }),
    } as RequestInit);
    await expect.poll(() => api.requestsInFlight).toBe(1);
    let closed = false;
    const down = api.shutdown(() => http.close()).then(() => (closed = true));
    expect((await api.push(new Request(`${base}/x`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: body }))).status).toBe(503);
    expect(closed).toBe(false);
    finish();
    expect((await inFlight).status).toBe(200);
    await down;
    await expect(server.health()).rejects.toThrow();
  });

  it('logs a failing database close instead of rejecting', async () => {
    const server = await newServer();
    const logged: string[] = [];
    const { api, http } = await startApiServer({ ...server, close: () => Promise.reject(new Error('disk on fire')) }, { log: (m) => logged.push(m) });
    await expect(api.shutdown(() => http.close())).resolves.toBeUndefined();
    expect(logged.join('\n')).toMatch(/closing the database failed: disk on fire/);
    await server.close();
  });
});
