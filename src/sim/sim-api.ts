import { AuthStore } from '../server/http/auth.ts';
import { detachedTimer } from './sim-server.ts';
import { SyncApi } from '../server/http/api.ts';
import { httpLimitsFromEnv } from '../server/http/options.ts';
import { serverEnv } from './server-process.ts';
import type { World } from './world-types.ts';

/** Virtual time starts here (the same epoch as the world's clocks). */
const EPOCH_MS = Date.UTC(2026, 0, 1);

interface ApiState {
  /** The server database the current SyncApi serves; a restart or a storage loss opens another. */
  database: World['server']['database'] | null;
  api: SyncApi | null;
  /** Tokens issued so far (their ids are deterministic). */
  tokens: number;
  /** Each client group's token as the client keeps it (localStorage: survives crashes, not a token loss). */
  kept: Map<string, string>;
  /** A graceful restart is draining the current SyncApi (its 503s are that fault's). */
  draining: boolean;
  /** Clients whose move to a new client group (after a 409) is under way: not quiescent yet. */
  moving: Set<string>;
}

const states = new WeakMap<World, ApiState>();

export function apiState(world: World): ApiState {
  let s = states.get(world);
  if (!s) states.set(world, (s = { database: null, api: null, tokens: 0, kept: new Map(), draining: false, moving: new Set() }));
  return s;
}

/**
 * The SyncApi the app's routes use (token auth, body limits, rate limits, JSON, pokes), over the
 * world's current server process. A server process that restarts builds a new one (rate limits are in
 * memory); the tokens live in the server schema's `auth` table, so a storage loss loses them too.
 * Runs inside a server task (AuthStore.open issues statements).
 */
export async function simApi(world: World): Promise<SyncApi> {
  const s = apiState(world);
  const database = world.server.database;
  if (s.api && s.database === database) return s.api;
  // Issued tokens as long as production's (a prefix and a UUID's 36 characters), so that one may be proposed back.
  const auth = await AuthStore.open(world.server.db, { newId: (p) => `${p}-${String(++s.tokens).padStart(36, '0')}` }, { schema: database.schema });
  // Another request may have built it meanwhile: one SyncApi (one poke hub) per process.
  if (s.api && s.database === database) return s.api;
  const clock = { now: () => EPOCH_MS + world.sched.now };
  // The server process createSyncServer built (world.reopenServer); limits as the seed's operator
  // set them, in the environment, read by production's parser.
  s.api = new SyncApi(world.server.sync, auth, { clock, timer: detachedTimer(world.sched), log: () => {}, limits: httpLimitsFromEnv(serverEnv(world.config.serverProcess)) });
  s.database = database;
  return s.api;
}
