import { parseRetryAfter, pushResponseOKSchema, type PushResponseOK, TransportError, unwrapResult, type PullRequest, type PullResponseOK, type PushRequest } from '../../protocol/index.ts';
import { pullResponseWireSchema } from './pull-response.ts';
import { parseAnswer } from './parse-answer.ts';
import type { Transport } from '../../seams/index.ts';

export interface FetchTransportOptions {
  /** Origin of the sync server, e.g. http://127.0.0.1:3000 ('' for same origin in a browser). */
  baseURL: string;
  /** The client group's bearer token (see registerClientGroup). */
  token: () => string | Promise<string>;
  fetch?: typeof fetch;
}

/** Replicache push/pull v1 as JSON over fetch, to /api/replicache/{push,pull}. */
export function fetchTransport(o: FetchTransportOptions): Transport {
  const f = o.fetch ?? globalThis.fetch.bind(globalThis);
  const call = async (path: string, body: unknown): Promise<unknown> => {
    let res: Response;
    try {
      res = await f(`${o.baseURL}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await o.token()}` },
        body: JSON.stringify(body),
      });
    } catch (e) {
      throw new TransportError(`network error: ${(e as Error).message}`);
    }
    let parsed: unknown = null;
    try {
      parsed = await res.json();
    } catch {
      if (res.status < 500) throw new TransportError(`unreadable response (status ${res.status})`);
    }
    return unwrapResult({ status: res.status, body: parsed, retryAfterMs: parseRetryAfter(res.headers.get('retry-after')) });
  };
  return {
    async push(req: PushRequest): Promise<PushResponseOK> {
      return parseAnswer(pushResponseOKSchema, await call('/api/replicache/push', req), 'push');
    },
    async pull(req: PullRequest): Promise<PullResponseOK> {
      return parseAnswer(pullResponseWireSchema, await call('/api/replicache/pull', req), 'pull');
    },
    pullAhead(req: PullRequest) {
      const response = this.pull(req);
      response.catch(() => undefined); // its error is the next pull's, if that pull uses it
      return { response: () => response };
    },
  };
}

/**
 * Registers a client group and returns its token (POST /api/register). A request that never got
 * an answer, or a 200 that is not JSON (a proxy cut it off), is a TransportError, as a sync
 * request's is; an answer that refuses (a 409, a gateway's HTML 502) says its status.
 */
export async function registerClientGroup(baseURL: string, clientGroupID: string, f: typeof fetch = globalThis.fetch.bind(globalThis)): Promise<string> {
  let res: Response;
  try {
    res = await f(`${baseURL}/api/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ clientGroupID }) });
  } catch (e) {
    throw new TransportError(`register: network error: ${(e as Error).message}`, { cause: e });
  }
  let body = null as { token?: unknown; message?: unknown } | null;
  try {
    body = (await res.json()) as typeof body;
  } catch {
    if (res.ok) throw new TransportError(`register: unreadable response (status ${res.status})`);
  }
  const token = body?.token;
  if (!res.ok || typeof token !== 'string' || token === '') throw new Error(`register failed (${res.status}): ${typeof body?.message === 'string' ? body.message : 'no token'}`);
  return token;
}
