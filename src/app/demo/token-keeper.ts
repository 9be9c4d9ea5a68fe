import { ProtocolError, TransportError } from '../../protocol/index.ts';
import type { Transport } from '../../seams/index.ts';

/** Thrown when the server holds this client group under a token we no longer have (409 on register). */
export class LostTokenError extends TransportError {
  override name = 'LostTokenError';
}

type Register = (clientGroupID: string) => Promise<Response>;
type Store = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

const defaultRegister: Register = (clientGroupID) =>
  fetch('/api/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ clientGroupID }) });

/**
 * The client group's bearer token, kept in localStorage. Registers when it has none; on a 401
 * (the server lost or never had the token: a wiped or restored database) registers again; a 409
 * (the group is bound to a token this browser lost, e.g. localStorage cleared but IndexedDB
 * kept) calls `onLost`, since only a new client group can get a token then.
 */
export class TokenKeeper {
  private token: string | undefined;
  private readonly key: string;

  constructor(
    readonly clientGroupID: string,
    private readonly onLost: () => void,
    private readonly register: Register = defaultRegister,
    private readonly storage: Store = localStorage,
  ) {
    this.key = `lockstep-token:${clientGroupID}`;
  }

  /** The token, registering the group first if none is stored. */
  async get(): Promise<string> {
    this.token ??= this.storage.getItem(this.key) ?? undefined;
    if (this.token) return this.token;
    const token = await this.registerNow();
    if (!token) {
      this.onLost();
      throw new LostTokenError(`client group ${this.clientGroupID} is registered under a token this browser no longer has; moving to a new client group`);
    }
    return token;
  }

  /**
   * Registers again after the engine started over (ClientStateNotFound): a server that lost our
   * state usually lost our token with it. A 409 means it still knows the group: keep the token.
   */
  async refresh(): Promise<void> {
    await this.registerNow().catch(() => undefined);
  }

  /** Forgets the token the server refused (401). The next get() registers again. */
  forget(): void {
    this.token = undefined;
    this.storage.removeItem(this.key);
  }

  /** A transport that, on a 401, registers again and retries the request once. */
  wrap(inner: Transport): Transport {
    const retry = async <T>(fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof ProtocolError && e.status === 401)) throw e;
        this.forget();
        return fn();
      }
    };
    return { push: (req) => retry(() => inner.push(req)), pull: (req) => retry(() => inner.pull(req)) };
  }

  private async registerNow(): Promise<string | undefined> {
    let res: Response;
    try {
      res = await this.register(this.clientGroupID);
    } catch (e) {
      throw new TransportError(`register failed: ${(e as Error).message}`);
    }
    if (res.status === 409) return undefined;
    const body = (await res.json().catch(() => ({}))) as { token?: string; message?: string };
    if (!res.ok || !body.token) throw new TransportError(`register failed (${res.status}): ${body.message ?? 'no token'}`);
    this.token = body.token;
    this.storage.setItem(this.key, body.token);
    return body.token;
  }
}
