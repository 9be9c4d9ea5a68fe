import { GroupToken, registerBody, type RegisterRequest, type TokenStorage } from '../../engine/transports/group-token.ts';

export { LostTokenError } from '../../engine/transports/group-token.ts';

const defaultRegister: RegisterRequest = (clientGroupID, token) =>
  fetch('/api/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: registerBody(clientGroupID, token) });

/**
 * The demo's client group token, kept in localStorage (see GroupToken; the proposed token is
 * stored there before the registration is sent, so a lost answer is retried idempotently): the transport and the
 * poke stream share one keeper, so they never register twice at once (the second would get 409
 * and move the demo to a new group for nothing). On a 401 (a wiped or restored database) it
 * registers again; a 409 (localStorage cleared, IndexedDB kept) calls `onLost` once.
 */
export class TokenKeeper extends GroupToken {
  constructor(clientGroupID: string, onLost: () => void, register: RegisterRequest = defaultRegister, storage: TokenStorage = localStorage) {
    super({ clientGroupID, onLost, register, storage });
  }
}
