import { z } from 'zod';
import { safeString } from '../../protocol/index.ts';
import type { SyncServer } from '../index.ts';
import type { AuthStore } from './auth.ts';
import { readJsonLimited } from './body.ts';
import { resolveOptions, type HttpLimits, type ResolvedOptions, type SyncApiOptions } from './options.ts';
import { PokeHub } from './poke.ts';
import { RateLimiter } from './rate-limit.ts';

type Result = { status: number; body: unknown; headers?: Record<string, string> };

const json = (r: Result) => Response.json(r.body, { status: r.status, headers: r.headers });
/** A client-proposed token: long enough not to be guessed, printable ASCII (it travels in a header). */
function registerSchemaFor(l: HttpLimits) {
  const proposedToken = z
    .string()
    .min(l.registerTokenMinChars, `must be at least ${l.registerTokenMinChars} characters (a random id; registerTokenMinChars)`)
    .max(l.registerTokenMaxChars, `must be at most ${l.registerTokenMaxChars} characters (registerTokenMaxChars)`)
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');
  return z.object({ clientGroupID: safeString, token: proposedToken.optional() });
}

/** The bearer token of a request: the Authorization header, or `?token=` (EventSource cannot set headers). */
export function tokenOf(request: Request, allowQuery = false): string {
  const header = request.headers.get('authorization') ?? '';
  if (header.startsWith('Bearer ')) return header.slice(7).trim();
  if (allowQuery) return new URL(request.url).searchParams.get('token') ?? '';
  return '';
}

/** The client's address as srvx reports it; one shared key when unknown (behind the same limit). */
const ipOf = (request: Request) => (request as { ip?: string }).ip ?? 'unknown';

/**
 * The HTTP surface over a transport-agnostic sync server, as fetch-style handlers (Request in,
 * Response out) that TanStack Start server routes and plain Node servers both mount. Every door
 * checks, in this order and before reading a body: shutdown, token, rate limit, body size.
 */
export class SyncApi {
  readonly server: SyncServer;
  readonly auth: AuthStore;
  readonly limits: HttpLimits;
  readonly pokes: PokeHub;
  private readonly o: ResolvedOptions;
  private readonly syncLimiter: RateLimiter;
  private readonly registerLimiter: RateLimiter;
  private readonly registerSchema: ReturnType<typeof registerSchemaFor>;
  private inFlight = 0;
  private draining = false;
  private idle: (() => void) | undefined;

  constructor(server: SyncServer, auth: AuthStore, options: SyncApiOptions = {}) {
    this.server = server;
    this.auth = auth;
    this.o = resolveOptions(options);
    this.limits = this.o.limits;
    const l = this.limits;
    this.registerSchema = registerSchemaFor(l);
    this.syncLimiter = new RateLimiter(this.o.clock, l.syncPerSecond, l.syncBurst, l.rateLimitKeys);
    this.registerLimiter = new RateLimiter(this.o.clock, l.registerPerSecond, l.registerBurst, l.rateLimitKeys);
    this.pokes = new PokeHub((cb) => server.onCommit(cb), {
      maxConnections: l.pokeMaxConnections,
      heartbeatMs: l.pokeHeartbeatMs,
      bufferBytes: l.pokeBufferBytes,
      timer: this.o.timer,
    });
  }

  /**
   * POST /api/register {clientGroupID, token?} -> {clientGroupID, token}. Idempotent when the
   * client proposes its token: 200 again if the group is already bound to that token, 409 if it is
   * bound to another (or the token belongs to another group). Without a token the server issues one.
   */
  register(request: Request): Promise<Response> {
    return this.tracked(async () => {
      const limited = this.rateLimited(this.registerLimiter, ipOf(request), 'registrations from this address');
      if (limited) return limited;
      const read = await readJsonLimited(request, this.limits.maxBodyBytes);
      if (!read.ok) return bodyError(read);
      const parsed = this.registerSchema.safeParse(read.body);
      if (!parsed.success) return { status: 400, body: { error: 'BadRequest', message: `malformed register: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}` } };
      const { clientGroupID, token } = parsed.data;
      const r = await this.auth.register(clientGroupID, token);
      if (!r.ok) {
        const message = r.reason === 'group-bound' ? `client group ${clientGroupID} is already registered under another token` : 'the proposed token is already in use; propose another';
        return { status: 409, body: { error: 'Conflict', message } };
      }
      return { status: 200, body: { clientGroupID, token: r.token } };
    });
  }

  push(request: Request): Promise<Response> {
    return this.authorized(request, (body) => this.server.handlePush(body));
  }

  pull(request: Request): Promise<Response> {
    return this.authorized(request, (body) => this.server.handlePull(body));
  }

  /**
   * The checks a server function request passes before TanStack Start reads its body: a declared
   * Content-Length within the limit (Start buffers the whole body), a known bearer token, and the
   * rate limit. Undefined when it may proceed.
   */
  async guardServerFn(request: Request): Promise<Response | undefined> {
    if (this.draining) return json(shuttingDown());
    const declared = request.headers.get('content-length');
    if (declared === null || !/^\d+$/.test(declared)) return json({ status: 411, body: { error: 'LengthRequired', message: 'server function requests need a Content-Length' } });
    if (Number(declared) > this.limits.maxBodyBytes) return json(bodyError({ status: 413, message: `request body over ${this.limits.maxBodyBytes} bytes` }));
    const token = tokenOf(request);
    const denied = await this.check(token, undefined);
    if (denied) return json(denied);
    return this.rateLimited(this.syncLimiter, token, 'sync requests for this token');
  }

  /** The token and group checks for an already parsed body (the server functions' path, after guardServerFn). */
  async withToken(token: string, body: unknown, handle: (body: unknown) => Promise<{ status: number; body: unknown }>): Promise<{ status: number; body: unknown }> {
    return this.trackedResult(async () => (await this.check(token, body)) ?? handle(body));
  }

  /** GET /api/poke?token=...: server-sent events, one `poke` after each committed push. */
  async poke(request: Request): Promise<Response> {
    if (this.draining) return json(shuttingDown());
    const denied = await this.check(tokenOf(request, true), undefined);
    if (denied) return json(denied);
    const stream = this.pokes.connect(request.signal);
    if (!stream) return json({ status: 503, body: { error: 'TooManyConnections', message: `over ${this.limits.pokeMaxConnections} open poke streams; retry later` }, headers: { 'retry-after': '5' } });
    return new Response(stream, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' } });
  }

  async health(): Promise<Response> {
    return json({ status: 200, body: await this.server.health() });
  }

  /**
   * SIGTERM: refuse new requests (503), end the poke streams, let `stopAccepting` close the
   * listener, wait for in-flight requests, then close the database. A failing close is logged.
   */
  shutdown(stopAccepting?: () => Promise<void>): Promise<void> {
    // A second call (under `vite dev` both SIGINT and SIGTERM arrive) waits for the first: it used
    // to replace the first call's wake-up for the drain, which then never ended.
    return (this.shutdownDone ??= this.drainAndClose(stopAccepting));
  }

  private shutdownDone: Promise<void> | undefined;

  private async drainAndClose(stopAccepting?: () => Promise<void>): Promise<void> {
    this.draining = true;
    this.pokes.closeAll();
    try {
      await stopAccepting?.();
    } catch (e) {
      this.o.log(`lockstep: closing the listener failed: ${(e as Error).message}`);
    }
    if (this.inFlight > 0) await new Promise<void>((r) => (this.idle = r));
    try {
      await this.server.close();
    } catch (e) {
      this.o.log(`lockstep: closing the database failed: ${(e as Error).message}`);
    }
  }

  get requestsInFlight(): number {
    return this.inFlight;
  }

  /** Token, rate limit, body size, then the body's clientGroupID must be the token's group. */
  private authorized(request: Request, handle: (body: unknown) => Promise<{ status: number; body: unknown }>): Promise<Response> {
    return this.tracked(async () => {
      const token = tokenOf(request);
      // One lookup per request: the token's group is read before the body and checked against it after.
      const group = await this.groupOf(token);
      if (typeof group !== 'string') return group;
      const limited = this.rateLimited(this.syncLimiter, token, 'sync requests for this token');
      if (limited) return limited;
      const read = await readJsonLimited(request, this.limits.maxBodyBytes);
      if (!read.ok) return bodyError(read);
      return claims(group, read.body) ?? handle(read.body);
    });
  }

  private async check(token: string, body: unknown): Promise<Result | undefined> {
    const group = await this.groupOf(token);
    if (typeof group !== 'string') return group;
    return body === undefined ? undefined : claims(group, body);
  }

  /** The token's client group, or the 401 answer. */
  private async groupOf(token: string): Promise<string | Result> {
    if (!token) return { status: 401, body: { error: 'Unauthorized', message: 'missing bearer token (POST /api/register first)' } };
    return (await this.auth.groupOf(token)) ?? { status: 401, body: { error: 'Unauthorized', message: 'unknown token' } };
  }

  private rateLimited(limiter: RateLimiter, key: string, what: string): Response | undefined {
    const wait = limiter.take(key);
    if (wait === 0) return undefined;
    return json({ status: 429, body: { error: 'TooManyRequests', message: `too many ${what}; retry in ${wait} s` }, headers: { 'retry-after': String(wait) } });
  }

  private async tracked(fn: () => Promise<Result | Response>): Promise<Response> {
    if (this.draining) return json(shuttingDown());
    const r = await this.trackedResult(fn);
    return r instanceof Response ? r : json(r);
  }

  private async trackedResult<T>(fn: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await fn();
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) this.idle?.();
    }
  }
}

/** A 403 unless the body's clientGroupID is the token's group. */
function claims(group: string, body: unknown): Result | undefined {
  const claimed = (body as { clientGroupID?: unknown } | null)?.clientGroupID;
  return claimed === group ? undefined : { status: 403, body: { error: 'Forbidden', message: `token does not belong to client group ${String(claimed)}` } };
}

function bodyError(e: { status: number; message: string }): Result {
  return e.status === 413 ? { status: 413, body: { error: 'PayloadTooLarge', message: e.message } } : { status: 400, body: { error: 'BadRequest', message: e.message } };
}

function shuttingDown(): Result {
  return { status: 503, body: { error: 'ShuttingDown', message: 'the server is shutting down; retry shortly' }, headers: { 'retry-after': '1' } };
}
