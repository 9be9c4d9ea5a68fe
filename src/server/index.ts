import type { MutatorRegistry } from '../protocol/index.ts';
import { PGliteDb } from '../db/pglite.ts';
import { PostgresDb } from '../db/postgres.ts';
import type { Db } from '../db/types.ts';
import { realTimer, systemClock, type Clock, type Timer } from '../seams/index.ts';
import { checkSchedule, compactionSchedule, type CompactionSchedule } from './compaction-schedule.ts';
import type { CompactionResult, Retention } from './compaction.ts';
import { handlePull, handlePush, type HandlerResult } from './handlers.ts';
import { ServerDatabase, type ServerDatabaseOptions } from './server-database.ts';
import type { ServerLimits } from './limits.ts';
import type { Ids } from '../seams/index.ts';

export { ServerDatabase, foldLog } from './server-database.ts';
export { handlePush, handlePull } from './handlers.ts';
export type { HandlerResult, HandlerOptions } from './handlers.ts';
export type * from './types.ts';
export { defaultServerLimits, type ServerLimits } from './limits.ts';
export { defaultRetention, type Retention, type CompactionResult } from './compaction.ts';

export interface SyncServerOptions {
  /** Embedded PGlite: 'memory' (the default) or a data directory. */
  pglite?: 'memory' | string;
  /** A PostgreSQL connection string; takes precedence over pglite. */
  postgres?: string;
  /** Or an already open Db. */
  db?: Db;
  mutators?: MutatorRegistry;
  clock?: Clock;
  pageSize?: number;
  /** Most bytes one pull page carries (default 4 MiB). */
  pageBytes?: number;
  /** Document size, push work budget and page limits (see ServerLimits). */
  limits?: Partial<ServerLimits>;
  schemaVersion?: string;
  /** What compact() keeps by default (default: the last 10,000 versions). */
  retention?: Retention;
  /**
   * Compaction on a schedule: every `everyMs` (driven by `timer`, the Timer seam) with the
   * retention above. Off by default: a server compacts only when compact() is called.
   */
  compaction?: CompactionSchedule;
  /** Drives the compaction schedule (default: real timers). */
  timer?: Timer;
  /** Postgres schema holding the tables (default 'lockstep'), so that several servers can share one database. */
  schema?: string;
  /** Where a new database's epoch comes from (default: crypto ids). */
  ids?: Ids;
  /**
   * Opens the ServerDatabase (default ServerDatabase.open). The simulator passes its planted-bug
   * variants here, and archives what a compaction drops, so that its checkers see the whole history.
   */
  openDatabase?: (db: Db, options: ServerDatabaseOptions) => Promise<ServerDatabase>;
}

export interface SyncServer {
  handlePush(body: unknown): Promise<HandlerResult>;
  handlePull(body: unknown): Promise<HandlerResult>;
  health(): Promise<{ status: 'ok'; version: number; dialect: Db['dialect'] }>;
  /** Fires after each push that committed at least one mutation (for pokes). Returns unsubscribe. */
  onCommit(listener: (version: number) => void): () => void;
  /** Compacts the replication log now (see ServerDatabase.compact). */
  compact(retention?: Retention): Promise<CompactionResult>;
  readonly db: Db;
  readonly database: ServerDatabase;
  close(): Promise<void>;
}

/** A transport-agnostic sync server: RPC and HTTP layers wrap exactly this. */
export async function createSyncServer(options: SyncServerOptions = {}): Promise<SyncServer> {
  if (options.compaction) checkSchedule(options.compaction);
  const db: Db = options.db ?? (options.postgres ? new PostgresDb(options.postgres) : await PGliteDb.open(options.pglite ?? 'memory'));
  const open = options.openDatabase ?? ((d: Db, o: ServerDatabaseOptions) => ServerDatabase.open(d, o));
  let database: ServerDatabase;
  try {
    database = await open(db, {
      clock: options.clock ?? systemClock,
      mutators: options.mutators,
      pageSize: options.pageSize,
      pageBytes: options.pageBytes,
      limits: options.limits,
      retention: options.retention,
      ...(options.schema !== undefined ? { schema: options.schema } : {}),
      ...(options.ids ? { ids: options.ids } : {}),
    });
  } catch (e) {
    // A database opened here is closed again: the app's getSyncApi retries a failed start, and a
    // PGlite instance left open would hold its data directory while the retry opens it again.
    if (!options.db) await db.close().catch(() => {});
    throw e;
  }
  const schedule = options.compaction ? compactionSchedule(database, options.compaction, options.timer ?? realTimer) : undefined;
  const listeners = new Set<(version: number) => void>();
  const handlerOptions = { schemaVersion: options.schemaVersion };
  return {
    db,
    database,
    handlePush: (body) =>
      handlePush(database, body, handlerOptions, (o) => {
        if (o.processed > 0) for (const l of [...listeners]) l(o.version);
      }),
    handlePull: (body) => handlePull(database, body, handlerOptions),
    async health() {
      return { status: 'ok', version: await database.version(), dialect: db.dialect };
    },
    onCommit(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    compact: (retention) => database.compact(retention),
    async close() {
      await schedule?.stop();
      await db.close();
    },
  };
}
export { localTransport, unwrapResult } from './local-transport.ts';
