/**
 * `lockstep/http`: the JSON routes' logic (register, push, pull, poke, health) as
 * Request -> Response handlers over a SyncServer, with bearer-token auth per client group.
 */
export { SyncApi } from '../server/http/api.ts';
export { defaultHttpLimits, httpLimitsFromEnv, type HttpLimits, type SyncApiOptions } from '../server/http/options.ts';
export { AuthStore } from '../server/http/auth.ts';
export { getSyncApi, storeFromEnv } from '../server/http/service.ts';
