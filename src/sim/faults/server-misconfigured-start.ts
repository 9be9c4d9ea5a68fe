import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGliteDb } from '../../db/pglite.ts';
import { createSyncServer, type SyncServerOptions } from '../../server/index.ts';
import { SyncApi } from '../../server/http/api.ts';
import type { AuthStore } from '../../server/http/auth.ts';
import { httpLimitsFromEnv } from '../../server/http/options.ts';
import type { Db } from '../../db/types.ts';

/** One setting an operator got wrong, and the words the startup error must name it with. */
interface Mistake {
  what: string;
  start: (db: Db) => Promise<unknown>;
  names: string;
}

/** A start as production's openSyncApiFromEnv does it: the HTTP limits from the environment, then the API over them. */
const apiFromEnv = async (env: Record<string, string>) =>
  // The server and token store are never reached: the limits are checked first, in the constructor.
  new SyncApi(undefined as never, undefined as unknown as AuthStore, { limits: httpLimitsFromEnv(env) });

/** createSyncServer as an operator calls it: no seams, production's defaults for everything not given. */
const server = (db: Db, o: Omit<SyncServerOptions, 'db'>) => createSyncServer({ db, ...o });

/**
 * The operator's typos (wide.misconfiguredStart): each start must fail at once, before any
 * statement, with an error naming the setting, so that a deploy with a bad setting stops at
 * startup instead of serving with it.
 */
export const mistakes: readonly Mistake[] = [
  { what: 'env-rate-not-a-number', start: () => apiFromEnv({ LOCKSTEP_SYNC_RATE_PER_SECOND: 'fast' }), names: 'LOCKSTEP_SYNC_RATE_PER_SECOND="fast"' },
  { what: 'env-token-min-fraction', start: () => apiFromEnv({ LOCKSTEP_REGISTER_TOKEN_MIN_CHARS: '12.5' }), names: 'registerTokenMinChars (LOCKSTEP_REGISTER_TOKEN_MIN_CHARS)' },
  { what: 'env-token-min-over-max', start: () => apiFromEnv({ LOCKSTEP_REGISTER_TOKEN_MIN_CHARS: '64', LOCKSTEP_REGISTER_TOKEN_MAX_CHARS: '40' }), names: 'registerTokenMinChars (64) is over registerTokenMaxChars (40)' },
  { what: 'limit-misspelt', start: (db) => server(db, { limits: { maxMutationsPerPsh: 10 } as never }), names: 'unknown server limit "maxMutationsPerPsh"' },
  { what: 'limit-zero', start: (db) => server(db, { limits: { pageSize: 0 } }), names: 'server limit pageSize must be a positive integer' },
  { what: 'retention-misspelt', start: (db) => server(db, { retention: { keepVersion: 100 } as never }), names: 'invalid compaction retention: (root)' },
  { what: 'retention-negative', start: (db) => server(db, { retention: { keepVersions: -1 } }), names: 'invalid compaction retention: keepVersions' },
  { what: 'schedule-zero', start: (db) => server(db, { compaction: { everyMs: 0 } }), names: 'everyMs must be a positive integer' },
  { what: 'schema-unsafe', start: (db) => server(db, { schema: 'Lockstep-Prod' }), names: 'unsafe SQL identifier "Lockstep-Prod"' },
  // Against PostgreSQL: the pool connects lazily, so the refused start never contacts it (and closes the pool it made).
  { what: 'postgres-budget-negative', start: () => createSyncServer({ postgres: 'postgres://lockstep@127.0.0.1:1/lockstep', limits: { maxEffectBytesPerPush: -1 } }), names: 'server limit maxEffectBytesPerPush must be a positive integer' },
  // Refused before PGlite starts: the directory is never created.
  { what: 'pglite-growth-zero', start: () => PGliteDb.open('/nonexistent/lockstep-misconfigured', { fileGrowthStepBytes: 0 }), names: 'fileGrowthStepBytes must be a positive integer, got 0' },
];

/**
 * The same kind of typo on an embedded PGlite in a data directory (wide.pgliteDirStart):
 * createSyncServer opens the directory before its settings are checked, so the refused start
 * boots a file-backed PGlite (seconds) and must close it again. The directory is a fresh temp
 * directory, removed afterwards.
 */
export const dataDirMistake: Mistake = {
  what: 'pglite-dir-page-bytes-zero',
  start: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-sim-datadir-'));
    try {
      return await createSyncServer({ pglite: join(dir, 'data'), pageBytes: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
  names: 'server limit pageBytes must be a positive integer',
};

/** What a refused start did wrong: undefined when it failed as it must (at once, naming the setting, no statement). */
export async function tryMistake(m: Mistake, db: Db, statements: () => number): Promise<string | undefined> {
  const before = statements();
  let error: unknown;
  try {
    await m.start(db);
  } catch (e) {
    error = e;
  }
  const issued = statements() - before;
  if (error === undefined) return `a start with ${m.what} did not fail`;
  const message = error instanceof Error ? error.message : String(error);
  if (!message.includes(m.names)) return `a start with ${m.what} failed without naming the setting (${m.names}): ${message}`;
  if (issued > 0) return `a start with ${m.what} issued ${issued} statements before failing`;
  return undefined;
}
