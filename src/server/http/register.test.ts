/**
 * POST /api/register is idempotent for a client-proposed token: a registration whose answer was
 * lost (or that was duplicated) is sent again with the same token and answered 200 again, where
 * it used to be 409, which clients take for a lost token (and move to a new client group).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createSyncServer, type SyncServer } from '../index.ts';
import { SyncApi } from './api.ts';
import { AuthStore } from './auth.ts';
import { httpLimitsFromEnv, type SyncApiOptions } from './options.ts';

let server: SyncServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function open(options: SyncApiOptions = {}) {
  server = await createSyncServer();
  let n = 0;
  const auth = await AuthStore.open(server.db, { newId: (p) => `${p}-issued-${++n}`.padEnd(36, '0') });
  return { api: new SyncApi(server, auth, options), auth, db: server.db };
}

const post = (api: SyncApi, body: unknown) =>
  api.register(new Request('http://x/api/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));

const tokenA = 'tok-aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const tokenB = 'tok-bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';

async function rows(db: SyncServer['db']) {
  return (await db.query<{ client_group_id: string; token_hash: string }>('SELECT client_group_id, token_hash FROM lockstep.auth ORDER BY 1')).rows;
}

describe('POST /api/register', () => {
  it('binds the group to the proposed token, and the same registration again answers 200 with it', async () => {
    const { api, auth } = await open();
    const first = await post(api, { clientGroupID: 'g1', token: tokenA });
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ clientGroupID: 'g1', token: tokenA });
    const again = await post(api, { clientGroupID: 'g1', token: tokenA });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ clientGroupID: 'g1', token: tokenA });
    expect(await auth.groupOf(tokenA)).toBe('g1');
  });

  it('refuses another token for a bound group with 409 and writes nothing', async () => {
    const { api, auth, db } = await open();
    expect((await post(api, { clientGroupID: 'g1', token: tokenA })).status).toBe(200);
    const before = await rows(db);
    const other = await post(api, { clientGroupID: 'g1', token: tokenB });
    expect(other.status).toBe(409);
    expect(((await other.json()) as { message: string }).message).toMatch(/already registered under another token/);
    expect(await rows(db)).toEqual(before);
    expect(await auth.groupOf(tokenB)).toBeUndefined();
  });

  it('refuses a token that belongs to another group with 409, not an error', async () => {
    const { api, db } = await open();
    expect((await post(api, { clientGroupID: 'g1', token: tokenA })).status).toBe(200);
    const before = await rows(db);
    const res = await post(api, { clientGroupID: 'g2', token: tokenA });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { message: string }).message).toMatch(/already in use/);
    expect(await rows(db)).toEqual(before);
  });

  it.each([
    ['too short', 'tok-short'],
    ['with a space', `${tokenA} x`],
    ['not a string', 42],
    ['too long', 'x'.repeat(257)],
  ])('answers 400 to a proposed token %s and writes nothing', async (_what, token) => {
    const { api, db } = await open();
    const res = await post(api, { clientGroupID: 'g1', token });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/malformed register: token: /);
    expect(await rows(db)).toEqual([]);
  });

  it('issues a token when the client proposes none (older clients), and 409 to a second such registration', async () => {
    const { api } = await open();
    const first = await post(api, { clientGroupID: 'g1' });
    expect(first.status).toBe(200);
    const issued = 'tok-issued-1'.padEnd(36, '0');
    expect(await first.json()).toEqual({ clientGroupID: 'g1', token: issued });
    expect((await post(api, { clientGroupID: 'g1' })).status).toBe(409);
    // The issued token, proposed, registers again like any proposed one.
    expect((await post(api, { clientGroupID: 'g1', token: issued })).status).toBe(200);
  });

  it('bounds a proposed token by registerTokenMinChars and registerTokenMaxChars (options or env), with a clear 400', async () => {
    const { api } = await open();
    const short = await post(api, { clientGroupID: 'g1', token: 'x'.repeat(31) });
    expect(short.status).toBe(400);
    expect((await short.json()).message).toContain('at least 32 characters (a random id; registerTokenMinChars)');
    const long = await post(api, { clientGroupID: 'g1', token: 'x'.repeat(257) });
    expect((await long.json()).message).toContain('at most 256 characters (registerTokenMaxChars)');
    await server!.close();
    const { api: custom } = await open({ limits: { registerTokenMinChars: 8, registerTokenMaxChars: 40 } });
    expect((await post(custom, { clientGroupID: 'g1', token: 'x'.repeat(8) })).status).toBe(200);
    expect((await post(custom, { clientGroupID: 'g2', token: 'y'.repeat(41) })).status).toBe(400);
    expect(httpLimitsFromEnv({ LOCKSTEP_REGISTER_TOKEN_MIN_CHARS: '16', LOCKSTEP_REGISTER_TOKEN_MAX_CHARS: '64' })).toMatchObject({ registerTokenMinChars: 16, registerTokenMaxChars: 64 });
    await expect(open({ limits: { registerTokenMinChars: 50, registerTokenMaxChars: 40 } })).rejects.toThrow('registerTokenMinChars (50) is over registerTokenMaxChars (40)');
    await expect(open({ limits: { registerTokenMinChars: 1.5 } })).rejects.toThrow(/registerTokenMinChars \(LOCKSTEP_REGISTER_TOKEN_MIN_CHARS\) must be a positive integer/);
  });

  it('looks the token up once per push or pull', async () => {
    const { api, auth } = await open();
    expect((await post(api, { clientGroupID: 'g1', token: tokenA })).status).toBe(200);
    let lookups = 0;
    const groupOf = auth.groupOf.bind(auth);
    auth.groupOf = (t) => (lookups++, groupOf(t));
    const req = (body: unknown) => new Request('http://x/api/pull', { method: 'POST', headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const pull = await api.pull(req({ pullVersion: 1, clientGroupID: 'g1', cookie: null, profileID: 'p', schemaVersion: '1' }));
    expect(pull.status).toBe(200);
    const push = await api.push(req({ pushVersion: 1, clientGroupID: 'g1', profileID: 'p', schemaVersion: '1', mutations: [] }));
    expect(push.status).toBe(200);
    expect(lookups).toBe(2);
    // The body still has to name the token's group.
    expect((await api.pull(req({ pullVersion: 1, clientGroupID: 'g2', cookie: null, profileID: 'p', schemaVersion: '1' }))).status).toBe(403);
  });
});
