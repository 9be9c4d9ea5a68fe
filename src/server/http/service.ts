import { mkdirSync } from 'node:fs';
import { cryptoIds } from '../../seams/index.ts';
import { createSyncServer } from '../index.ts';
import { SyncApi } from './api.ts';
import { AuthStore } from './auth.ts';

/**
 * The app's one sync server, created on first use, server-side only. PostgreSQL when
 * LOCKSTEP_PG_URL (or DATABASE_URL) is set, else embedded PGlite in LOCKSTEP_DATA_DIR
 * (default ./data/server). Closed on SIGINT/SIGTERM.
 */
let api: Promise<SyncApi> | undefined;

export function storeFromEnv(env: NodeJS.ProcessEnv = process.env): { postgres: string } | { pglite: string } {
  const url = env.LOCKSTEP_PG_URL || env.DATABASE_URL;
  return url ? { postgres: url } : { pglite: env.LOCKSTEP_DATA_DIR || './data/server' };
}

export function getSyncApi(): Promise<SyncApi> {
  api ??= (async () => {
    const store = storeFromEnv();
    // PGlite creates its data directory but not the parents.
    if ('pglite' in store) mkdirSync(store.pglite, { recursive: true });
    const server = await createSyncServer(store);
    const auth = await AuthStore.open(server.db, cryptoIds);
    const close = async () => {
      await server.close();
      process.exit(0);
    };
    process.once('SIGINT', close);
    process.once('SIGTERM', close);
    return new SyncApi(server, auth);
  })();
  return api;
}
