import { ProtocolError, TransportError } from '../../protocol/index.ts';
import { cryptoIds, mathRandom, systemClock, type Clock, type Ids, type Random, type Transport } from '../../seams/index.ts';

/** Thrown when the server holds this client group under a token we no longer have (409 on register). */
export class LostTokenError extends TransportError {
  override name = 'LostTokenError';
}

/** POST /api/register {clientGroupID, token}, as the app sends it (a fetch, or the simulated network). */
export type RegisterRequest = (clientGroupID: string, token: string) => Promise<Response>;
/** The body of a registration proposing `token` (idempotent: the same token registers again). */
export const registerBody = (clientGroupID: string, token: string) => JSON.stringify({ clientGroupID, token });

/** Stored under the key until the server confirms the proposed token; a bare value is a confirmed token. */
const PROPOSED = 'proposed:';

/** The token the server confirmed for a group, as kept in storage (not a proposal still unanswered). */
export function confirmedToken(storage: Pick<Storage, 'getItem'>, key: string): string | undefined {
  const v = storage.getItem(key);
  return v && !v.startsWith(PROPOSED) ? v : undefined;
}
/** Where the token survives a reload (localStorage in a browser). */
export type TokenStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

export interface GroupTokenOptions {
  clientGroupID: string;
  register: RegisterRequest;
  storage: TokenStorage;
  /** Called once when the group is bound to a token we lost (409): only a new client group can get a token. */
  onLost: () => void;
  /** Storage key (default `lockstep-token:<clientGroupID>`). */
  key?: string;
  clock?: Clock;
  random?: Random;
  /** Where proposed tokens come from: `newId('tok')` must be unguessable and at least 32 characters. */
  ids?: Ids;
  /** Wait after a failed registration before the next: base * 2^(failures-1), capped, times 0.5..1 (jitter). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /**
   * How a caller waits for the registration another caller has in flight (default: awaits its
   * promise). A deterministic scheduler that runs one flow at a time cannot see a bare promise
   * settled by another of its flows: the simulator passes a wait it can see.
   */
  join?: <T>(inFlight: Promise<T>) => Promise<T>;
}

export const defaultRegisterBackoff = { backoffBaseMs: 1_000, backoffMaxMs: 60_000 };

/**
 * A client group's bearer token. Registers when it has none, with at most one registration in
 * flight (the sync loop's push and pull and the poke stream all ask for the token: two racing
 * registrations bind the group to the first token and answer the second 409, which looks exactly
 * like a lost token). The client proposes its own token and stores it before sending, so a
 * registration whose answer was lost (or that was duplicated, or a crash cut short) is simply sent
 * again with the same token, and the server answers 200 again. After a failed registration, asking
 * again within the backoff fails at once without a request. A 409 is final for this group:
 * `onLost` is called once, and every later request fails with LostTokenError without registering
 * again (the app moves to a new group).
 */
export class GroupToken {
  readonly clientGroupID: string;
  private readonly o: Required<Omit<GroupTokenOptions, 'clientGroupID'>>;
  private token: string | undefined;
  private inFlight: Promise<string> | null = null;
  private failures = 0;
  private retryAt = 0;
  private lastFailure = '';
  private lost = false;

  constructor(options: GroupTokenOptions) {
    this.clientGroupID = options.clientGroupID;
    this.o = { key: `lockstep-token:${options.clientGroupID}`, clock: systemClock, random: mathRandom, ids: cryptoIds, join: (p) => p, ...defaultRegisterBackoff, ...options };
  }

  /** True once the server answered 409: this group will never get a token here again. */
  get isLost(): boolean {
    return this.lost;
  }

  /** The token, registering the group first if none is stored (one registration at a time). */
  async get(): Promise<string> {
    this.token ??= this.stored().token;
    if (this.token) return this.token;
    if (this.lost) throw this.lostError();
    if (this.inFlight) return this.o.join(this.inFlight);
    const wait = this.retryAt - this.o.clock.now();
    // A clock that jumped back must not stretch the wait past the cap.
    if (wait > 0 && wait <= this.o.backoffMaxMs) throw new TransportError(`register: backing off ${wait} ms after ${this.lastFailure}`);
    return this.registerOnce(false);
  }

  /**
   * Registers again after the engine started over (ClientStateNotFound): a server that lost our
   * state usually lost our token with it. A 409 here means it still knows the group: keep the token.
   */
  async refresh(): Promise<void> {
    if (this.lost) return;
    await (this.inFlight ? this.o.join(this.inFlight) : this.registerOnce(true)).catch(() => undefined);
  }

  /** Forgets the token the server refused (401). The next get() registers again, with a new token. */
  forget(): void {
    this.token = undefined;
    this.o.storage.removeItem(this.o.key);
  }

  /** A transport that, on a 401, forgets the token, registers again and retries the request once. */
  wrap(inner: Transport): Transport {
    // `again`: the request once more, after the refused token is forgotten.
    const retry = async <T>(first: () => Promise<T>, again: () => Promise<T> = first): Promise<T> => {
      try {
        return await first();
      } catch (e) {
        if (!(e instanceof ProtocolError && e.status === 401)) throw e;
        this.forget();
        return again();
      }
    };
    const wrapped: Transport = { push: (req) => retry(() => inner.push(req)), pull: (req) => retry(() => inner.pull(req)) };
    // The page asked for ahead keeps the engine's catch-up pipelined (this dropped it, so an app
    // that wrapped its transport asked for pages one at a time); a 401 on it is retried as a pull.
    if (inner.pullAhead) {
      const ahead = inner.pullAhead.bind(inner);
      wrapped.pullAhead = (req) => {
        const sent = ahead(req);
        return { response: () => retry(() => sent.response(), () => inner.pull(req)) };
      };
    }
    return wrapped;
  }

  private registerOnce(refreshing: boolean): Promise<string> {
    // Only one registration is ever in flight (every caller checks inFlight first): its end clears it.
    const p = this.attempt(refreshing).finally(() => {
      this.inFlight = null;
    });
    this.inFlight = p;
    return p;
  }

  /** The stored token, or the proposal still waiting for the server's answer. */
  private stored(): { token?: string; proposed?: string } {
    const v = this.o.storage.getItem(this.o.key);
    if (!v) return {};
    return v.startsWith(PROPOSED) ? { proposed: v.slice(PROPOSED.length) } : { token: v };
  }

  /**
   * The token to propose: ours when refreshing, else the pending proposal, else a new one that is
   * stored before it is sent (an answer lost, or a crash, then proposes the same token again).
   */
  private proposal(): string {
    const s = this.stored();
    const known = this.token ?? s.token ?? s.proposed;
    if (known) return known;
    const token = this.o.ids.newId('tok');
    this.o.storage.setItem(this.o.key, PROPOSED + token);
    return token;
  }

  private async attempt(refreshing: boolean): Promise<string> {
    let res: Response;
    let body: { token?: string; message?: string };
    try {
      const proposed = this.proposal();
      res = await this.o.register(this.clientGroupID, proposed);
      body = res.status === 409 ? {} : ((await res.json().catch(() => ({}))) as typeof body);
    } catch (e) {
      throw this.failed(`register failed: ${(e as Error).message}`);
    }
    if (res.status === 409) {
      if (refreshing && (this.token ??= this.stored().token)) return this.token;
      // The refused proposal is no use to anyone: the group is bound to another token.
      if (this.stored().proposed) this.o.storage.removeItem(this.o.key);
      this.lost = true;
      this.o.onLost();
      throw this.lostError();
    }
    if (!res.ok || !body.token) throw this.failed(`register failed (${res.status}): ${body.message ?? 'no token'}`);
    this.failures = 0;
    this.retryAt = 0;
    this.token = body.token;
    this.o.storage.setItem(this.o.key, body.token);
    return body.token;
  }

  private failed(message: string): TransportError {
    this.failures++;
    const exp = Math.min(this.o.backoffMaxMs, this.o.backoffBaseMs * 2 ** Math.min(this.failures - 1, 20));
    this.retryAt = this.o.clock.now() + Math.round(exp * (0.5 + this.o.random.next() / 2));
    this.lastFailure = message;
    return new TransportError(message);
  }

  private lostError(): LostTokenError {
    return new LostTokenError(`client group ${this.clientGroupID} is registered under a token this client no longer has; moving to a new client group`);
  }
}
