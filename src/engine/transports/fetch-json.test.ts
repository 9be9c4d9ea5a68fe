import { describe, expect, it } from 'vitest';
import { ProtocolError, TransportError } from '../../protocol/index.ts';
import { fetchTransport } from './fetch-json.ts';

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
