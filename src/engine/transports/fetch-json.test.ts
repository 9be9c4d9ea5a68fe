import { describe, expect, it } from 'vitest';
import { ProtocolError, TransportError } from '../../protocol/index.ts';
import { fetchTransport, registerClientGroup } from './fetch-json.ts';

const pullRequest = { pullVersion: 1 as const, clientGroupID: 'g', cookie: null, profileID: 'p', schemaVersion: '1' };

/** A transport whose every request gets `status`, `body` and `headers`. */
function answering(status: number, body: unknown, headers: Record<string, string> = {}) {
  const f = (async () => Response.json(body, { status, headers })) as unknown as typeof fetch;
  return fetchTransport({ baseURL: 'http://x', token: () => 't', fetch: f });
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => expect.unreachable('resolved'), (e: unknown) => e);
}

describe('fetchTransport Retry-After', () => {
  it('carries a 429 answer Retry-After (seconds) on the ProtocolError', async () => {
    const e = await failure(answering(429, { error: 'TooManyRequests', message: 'too many' }, { 'retry-after': '7' }).pull(pullRequest));
    expect(e).toBeInstanceOf(ProtocolError);
    expect((e as ProtocolError).status).toBe(429);
    expect((e as ProtocolError).retryAfterMs).toBe(7_000);
  });

  it('carries a 503 answer Retry-After on the TransportError', async () => {
    const e = await failure(answering(503, { error: 'ShuttingDown', message: 'draining' }, { 'retry-after': '1' }).pull(pullRequest));
    expect(e).toBeInstanceOf(TransportError);
    expect((e as TransportError).retryAfterMs).toBe(1_000);
  });

  it('ignores a missing header and an HTTP date (no clock to read it against)', async () => {
    const none = await failure(answering(429, { message: 'x' }).pull(pullRequest));
    const date = await failure(answering(429, { message: 'x' }, { 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' }).pull(pullRequest));
    expect((none as ProtocolError).retryAfterMs).toBeUndefined();
    expect((date as ProtocolError).retryAfterMs).toBeUndefined();
  });
});

describe('fetchTransport answers the protocol does not allow', () => {
  /** A transport whose every request gets this raw 200 text (JSON.parse turns 1e999 into Infinity). */
  const rawAnswer = (text: string) => fetchTransport({ baseURL: 'http://x', token: () => 't', fetch: (async () => new Response(text, { status: 200 })) as unknown as typeof fetch });
  const cookie = '{"order":3,"epoch":"e"}';

  it('refuses a rewritten pull page with a TransportError naming the op and the path (not a ZodError)', async () => {
    const e = await failure(rawAnswer(`{"cookie":${cookie},"lastMutationIDChanges":{},"patch":[{"op":"del","key":"comment/a"},{"op":"put","key":"comment/a","value":{"n":1e999}}]}`).pull(pullRequest));
    expect(e).toBeInstanceOf(TransportError);
    expect((e as Error).message).toMatch(/^invalid pull response: patch\.1: value: .*n/);
  });

  it('names at most three problems of a page, and counts the rest', async () => {
    const bad = Array.from({ length: 5 }, () => '{"op":"merge","key":"k"}').join(',');
    const e = await failure(rawAnswer(`{"cookie":${cookie},"lastMutationIDChanges":{},"patch":[${bad}]}`).pull(pullRequest));
    expect((e as Error).message).toContain('patch.2: op must be');
    expect((e as Error).message).toContain('(and 2 more)');
  });

  it('refuses a push answer of the wrong shape the same way', async () => {
    const e = await failure(rawAnswer('[1,2]').push({ pushVersion: 1, clientGroupID: 'g', mutations: [], profileID: 'p', schemaVersion: '1' }));
    expect(e).toBeInstanceOf(TransportError);
    expect((e as Error).message).toMatch(/^invalid push response: /);
  });

  it('the page asked for ahead fails the same way, when it is asked for, and not before', async () => {
    const ahead = rawAnswer(`{"cookie":"rewritten","lastMutationIDChanges":{},"patch":[]}`).pullAhead!(pullRequest);
    await new Promise((r) => setTimeout(r, 5)); // no unhandled rejection meanwhile
    const e = await failure(ahead.response());
    expect(e).toBeInstanceOf(TransportError);
    expect((e as Error).message).toMatch(/^invalid pull response: cookie/);
  });
});

describe('registerClientGroup', () => {
  const answering = (status: number, text: string) => (async () => new Response(text, { status })) as unknown as typeof fetch;

  it('returns the token the server issued', async () => {
    await expect(registerClientGroup('http://x', 'g', answering(200, '{"token":"t-1"}'))).resolves.toBe('t-1');
  });

  it('a request that got no answer, and a 200 cut off, are TransportErrors (not a TypeError or a SyntaxError)', async () => {
    const offline = (async () => {
      throw new TypeError('fetch failed');
    }) as unknown as typeof fetch;
    const lost = await failure(registerClientGroup('http://x', 'g', offline));
    expect(lost).toBeInstanceOf(TransportError);
    expect((lost as Error).message).toBe('register: network error: fetch failed');
    const cut = await failure(registerClientGroup('http://x', 'g', answering(200, '{"tok')));
    expect(cut).toBeInstanceOf(TransportError);
    expect((cut as Error).message).toBe('register: unreadable response (status 200)');
  });

  it('a refusal says its status and message; a gateway page that is not JSON says its status', async () => {
    await expect(registerClientGroup('http://x', 'g', answering(409, '{"error":"Conflict","message":"taken"}'))).rejects.toThrow('register failed (409): taken');
    await expect(registerClientGroup('http://x', 'g', answering(502, '<html>502 Bad Gateway</html>'))).rejects.toThrow('register failed (502): no token');
    await expect(registerClientGroup('http://x', 'g', answering(200, '{"token":7}'))).rejects.toThrow('register failed (200): no token');
  });
});
