import { mkdirSync } from 'node:fs';
import { cryptoIds } from '../../seams/index.ts';
import { createSyncServer } from '../index.ts';
import { SyncApi } from './api.ts';
import { AuthStore } from './auth.ts';
import { httpLimitsFromEnv } from './options.ts';

export function storeFromEnv(env: NodeJS.ProcessEnv = process.env): { postgres: string } | { pglite: string } {
  const url = env.LOCKSTEP_PG_URL || env.DATABASE_URL;
  return url ? { postgres: url } : { pglite: env.LOCKSTEP_DATA_DIR || './data/server' };
}

/** Opens the sync server, its token store and the HTTP API from the environment. */
export async function openSyncApiFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<SyncApi> {
  const limits = httpLimitsFromEnv(env);
  const store = storeFromEnv(env);
  // PGlite creates its data directory but not the parents.
  if ('pglite' in store) mkdirSync(store.pglite, { recursive: true });
  const server = await createSyncServer(store);
  try {
    const auth = await AuthStore.open(server.db, cryptoIds);
    return new SyncApi(server, auth, { limits });
  } catch (e) {
    await server.close().catch(() => {});
    throw e;
  }
}

/**
 * A value opened on first use and shared; a failed open is not cached, so the next caller tries
 * again (a database that is down at the first request does not stay down until a restart).
 */
export function retryingOnce<T>(open: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= open().catch((e: unknown) => {
      pending = undefined;
      throw e;
    });
    return pending;
  };
}

/** Set by scripts/serve.mjs, which owns the signals in production: it closes the listener first. */
const SHUTDOWN_HOOK = Symbol.for('lockstep.shutdown');
type Hooks = { [SHUTDOWN_HOOK]?: (stopAccepting?: () => Promise<void>) => Promise<void>; [k: symbol]: unknown };

let current: SyncApi | undefined;

/** The app's one sync server (PostgreSQL when LOCKSTEP_PG_URL or DATABASE_URL is set, else PGlite in LOCKSTEP_DATA_DIR). */
export const getSyncApi = retryingOnce(async () => {
  const api = await openSyncApiFromEnv();
  current = api;
  return api;
});

/** Drains and closes the sync server if one was opened; never rejects. */
export async function shutdownSyncApi(stopAccepting?: () => Promise<void>): Promise<void> {
  if (current) await current.shutdown(stopAccepting);
  else await stopAccepting?.().catch(() => {});
}

(globalThis as Hooks)[SHUTDOWN_HOOK] = shutdownSyncApi;

// Under `vite dev` nobody else handles the signals: drain, close the database, exit.
if (!(globalThis as Hooks)[Symbol.for('lockstep.serve')]) {
  const onSignal = () => void shutdownSyncApi().finally(() => process.exit(0));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}
