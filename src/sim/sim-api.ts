import type { SyncServer } from '../server/index.ts';
import { handlePull, handlePush } from '../server/handlers.ts';
import { AuthStore } from '../server/http/auth.ts';
import { SyncApi } from '../server/http/api.ts';
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
  listeners: Set<(version: number) => void>;
}

const states = new WeakMap<World, ApiState>();

export function apiState(world: World): ApiState {
  let s = states.get(world);
  if (!s) states.set(world, (s = { database: null, api: null, tokens: 0, kept: new Map(), listeners: new Set() }));
  return s;
}

/**
 * The SyncApi the app's routes use (token auth, body limits, rate limits, JSON), over the world's
 * current server database. A server process that restarts builds a new one (rate limits are in
 * memory); the tokens live in the server schema's `auth` table, so a storage loss loses them too.
 * Runs inside a server task (AuthStore.open issues statements).
 */
export async function simApi(world: World): Promise<SyncApi> {
  const s = apiState(world);
  const database = world.server.database;
  if (s.api && s.database === database) return s.api;
  const auth = await AuthStore.open(world.server.db, { newId: (p) => `${p}-sim-${++s.tokens}` }, { schema: database.schema });
  const server: SyncServer = {
    db: world.server.db,
    database,
    handlePush: (body) =>
      handlePush(database, body, {}, (o) => {
        if (o.processed > 0) for (const l of [...s.listeners]) l(o.version);
      }),
    handlePull: (body) => handlePull(database, body),
    health: async () => ({ status: 'ok', version: await database.version(), dialect: world.server.db.dialect }),
    onCommit(listener) {
      s.listeners.add(listener);
      return () => s.listeners.delete(listener);
    },
    compact: (retention) => database.compact(retention),
    close: async () => {},
  };
  const clock = { now: () => EPOCH_MS + world.sched.now };
  s.api = new SyncApi(server, auth, { clock, timer: { sleep: (ms, signal) => world.sched.sleep(ms, signal) }, log: () => {} });
  s.database = database;
  return s.api;
}
