import { createSyncServer, type SyncServer } from '../server/index.ts';
import { ServerDatabase, type ServerDatabaseOptions } from '../server/server-database.ts';
import { isDataError } from '../server/validate.ts';
import type { Db, Queryable } from '../db/types.ts';
import type { Retention } from '../server/compaction.ts';
import type { Timer } from '../seams/index.ts';
import { Crash, type Future, type Scheduler } from './scheduler.ts';
import { exceptionViolation } from './findings.ts';
import { serverKnobs } from './wide-workload.ts';
import type { Violation } from './checkers/types.ts';
import type { BugVariant } from './bugs/types.ts';
import type { World } from './world-types.ts';
import type { MutatorRegistry } from '../protocol/index.ts';
import { dataDirMistake, mistakes, tryMistake } from './faults/server-misconfigured-start.ts';

/** Virtual time starts here (the same epoch as the world's clocks). */
const EPOCH_MS = Date.UTC(2026, 0, 1);

export interface ServerProcessOptions {
  schema: string;
  bug: BugVariant | undefined;
  mutators: MutatorRegistry | undefined;
  /** Where an exception of the compaction schedule goes (a finding of the seed). */
  onViolation: (v: Violation) => void;
}

/**
 * A server process, started the way production starts one: createSyncServer (migration, the
 * push handler's onCommit that feeds pokes, health, and the compaction schedule when the seed
 * draws one), over the world's simulated database. It runs as a task of the server lane, which
 * the compaction schedule's loop then lives in: a server crash kills it with the requests.
 */
export async function openServerProcess(world: World, o: ServerProcessOptions): Promise<SyncServer> {
  const { sched, config } = world;
  const ready = sched.future<SyncServer>();
  const schedule = config.serverProcess?.compaction;
  let loopEnded!: () => void;
  const ended = new Promise<void>((r) => (loopEnded = r));
  // The schedule's loop sleeps in the process task (its compaction statements then run there); a
  // sleep that ends by a stop or a crash is the loop's end, and the task's.
  const timer: Timer = {
    sleep: (ms, signal) =>
      sched.sleep(ms, signal).catch((e: unknown) => {
        loopEnded();
        throw e;
      }),
  };
  const incarnation = world.server.incarnation;
  sched.spawn('server', 'process', async () => {
    if ((config.wide?.misconfiguredStart || config.wide?.pgliteDirStart) && !triedMistakes.has(world)) await startWithMistakes(world, o);
    try {
      const server = await createSyncServer({
        db: world.server.db,
        schema: o.schema,
        clock: { now: () => EPOCH_MS + sched.now },
        // open() runs the idempotent migration, as a restarted server process would.
        ids: { newId: (p: string) => `${p}-sim-${incarnation}` },
        mutators: o.mutators,
        // As an app declares it: the engine's default; another version gets VersionNotSupported.
        schemaVersion: '1',
        // An operator who keeps production's page size and bytes passes neither (wide.serverPageDefaults).
        ...(config.wide?.serverPageDefaults ? {} : serverKnobs(config.wide)),
        ...(config.serverProcess?.limits || config.wide?.effectBudgetBytes
          ? { limits: { ...config.serverProcess?.limits, ...(config.wide?.effectBudgetBytes ? { maxEffectBytesPerPush: config.wide.effectBudgetBytes } : {}) } }
          : {}),
        openDatabase: (db, options) => openDatabase(world, db, options, o.bug),
        ...(schedule
          ? {
              retention: config.wide?.scheduleKeepMs !== undefined ? { keepMs: config.wide.scheduleKeepMs } : { keepVersions: schedule.keepVersions },
              compaction: {
                everyMs: schedule.everyMs,
                onCompact: (r) => sched.record('server', 'compact', `scheduled: horizon ${r.horizon}, ${r.droppedRows} rows dropped`),
                // A stop that came during a compaction ends the loop without a sleep to reject: the
                // task waited forever and the run never settled (swarm seed 187: heal ended as a
                // scheduled compaction began).
                onStopped: loopEnded,
                onError: (e) => {
                  if (e instanceof Crash) return;
                  o.onViolation(exceptionViolation(e, { lane: 'server', t: sched.now }, 'server-error'));
                },
              },
              timer,
            }
          : {}),
      });
      ready.resolve(server);
    } catch (e) {
      ready.reject(e instanceof Error ? e : new Error(String(e)));
      throw e;
    }
    if (schedule) await ended;
  });
  return sched.waitFor(ready, Number.POSITIVE_INFINITY, () => new Error('unreachable'));
}

const triedMistakes = new WeakSet<World>();

/**
 * The operator's first start of the seed (wide.misconfiguredStart, wide.pgliteDirStart) is tried with each typo first
 * (faults/server-misconfigured-start.ts): each must fail at once, naming the setting, before any
 * statement. A start that does not is a server-error finding of the seed.
 */
async function startWithMistakes(world: World, o: ServerProcessOptions): Promise<void> {
  triedMistakes.add(world);
  const wide = world.config.wide!;
  for (const m of [...(wide.misconfiguredStart ? mistakes : []), ...(wide.pgliteDirStart ? [dataDirMistake] : [])]) {
    const wrong = await tryMistake(m, world.server.db, () => world.server.db.stats.statements);
    world.sched.record('server', 'start-refused', wrong ?? m.what);
    if (wrong) o.onViolation(exceptionViolation(new Error(wrong), { lane: 'server', t: world.sched.now }, 'server-error'));
  }
  world.countFault('misconfigured-start');
}

/**
 * The ServerDatabase of a planted-bug variant or the real one. A compaction without an explicit
 * `upTo` (the schedule's) first archives the log it is about to fold, as the compaction fault
 * does, so that the checkers that need every mutation still see the whole history; with
 * wide.compactUnbounded it runs as called, archiving inside its own transaction instead.
 */
async function openDatabase(world: World, db: Db, options: ServerDatabaseOptions, bug: BugVariant | undefined): Promise<ServerDatabase> {
  const Server = bug?.Server ?? ServerDatabase;
  const unbounded = world.config.wide?.compactUnbounded === true;
  let database!: ServerDatabase;
  const watched = world.config.wide?.crashInFallback ? watchingDataErrors(world, db) : db;
  const opened = unbounded ? archivingInsideCompaction(world, watched, () => database) : watched;
  database = (await (Server as typeof ServerDatabase).open.call(Server as never, opened, options)) as ServerDatabase;
  // A push cut short by the server's work budget (the client sends the rest): counted for the
  // fault coverage, not traced, so that the trace hash does not depend on it.
  const push = database.push.bind(database);
  database.push = async (req) => {
    const outcome = await push(req);
    const held = outcome.lastMutationIDs ?? {};
    if (req.mutations.some((m) => held[m.clientID] !== undefined && m.id > held[m.clientID]!)) world.countFault('push-cut-short');
    // A mutation PostgreSQL refused to store (the server's one-by-one fallback recorded it as failed).
    for (const f of outcome.failed ?? []) if (f.error.startsWith('refused by the database')) world.countFault('push-data-refused');
    // A mutation whose effects alone pass the per-push effect budget (wide.effectBudgetBytes).
    for (const f of outcome.failed ?? []) if (f.error.includes('(maxEffectBytesPerPush)')) world.countFault('push-over-effect-budget');
    // A mutator's write the server refused to store (a bad key or document: wide.sloppyTagRate).
    for (const f of outcome.failed ?? []) if (/^(entity key |document )/.test(f.error) && !f.error.includes('maxEffectBytesPerPush')) world.countFault('push-effect-refused');
    return outcome;
  };
  const compact = database.compact.bind(database);
  database.compact = async (retention?: Retention) => {
    if (retention?.upTo !== undefined) return compact(retention);
    // A crash fault waiting for a scheduled compaction (wide.crashInCompaction) may now land in it.
    reached(world, 'compaction');
    // wide.compactUnbounded: as production calls it (no upTo); the archive is read inside its transaction.
    if (unbounded) return compact(retention);
    const upTo = await archiveLog(world, database);
    return compact({ ...(retention ?? database.retention), upTo });
  };
  return database;
}

/**
 * The server's Db with one difference (wide.compactUnbounded): inside a compaction's transaction,
 * right after it takes the compaction lock, the log is read through that transaction and archived
 * for the checkers. Nothing commits on the server's one session (or one connection) while the
 * transaction runs, so the archive holds every row the compaction can fold, and the compaction
 * needs no `upTo`: production's compaction, as an operator's call or the schedule runs it.
 */
function archivingInsideCompaction(world: World, db: Db, database: () => ServerDatabase): Db {
  const watch = (tx: Queryable): Queryable => ({
    exec: (sql) => tx.exec(sql),
    async query<T>(sql: string, params?: unknown[]) {
      const r = await tx.query<T>(sql, params);
      if (sql.includes('pg_advisory_xact_lock') && String(params?.[0]).startsWith('lockstep-compact:')) {
        const inside: Db = { dialect: db.dialect, query: (q, p) => tx.query(q, p), exec: (q) => tx.exec(q), transaction: (fn) => fn(tx), close: async () => {} };
        await archiveLog(world, Object.create(database(), { db: { value: inside } }) as ServerDatabase);
      }
      return r;
    },
  });
  return {
    dialect: db.dialect,
    query: (sql, params) => db.query(sql, params),
    exec: (sql) => db.exec(sql),
    transaction: (fn, o) => db.transaction((tx) => fn(watch(tx)), o),
    close: () => db.close(),
  };
}

type Moment = 'compaction' | 'fallback';
const moments = new WeakMap<World, Map<Moment, Set<Future<void>>>>();

/** Wakes every fault waiting for the moment. */
function reached(world: World, moment: Moment): void {
  for (const f of moments.get(world)?.get(moment) ?? []) f.resolve();
}

/**
 * Waits, at most `timeoutMs` of virtual time, until the server reaches a moment: the compaction
 * schedule's next run begins (wide.crashInCompaction), or a push's batch was refused by the
 * database and the one-by-one fallback begins (wide.crashInFallback). A server crash then lands
 * inside it. False if none came meanwhile.
 */
export async function untilServerMoment(world: World, moment: Moment, timeoutMs: number): Promise<boolean> {
  const started = world.sched.future<void>();
  const all = moments.get(world) ?? new Map<Moment, Set<Future<void>>>();
  moments.set(world, all);
  const waiting = all.get(moment) ?? new Set<Future<void>>();
  all.set(moment, waiting.add(started));
  try {
    await world.sched.waitFor(started, timeoutMs, () => new Error(`no ${moment}`));
    return true;
  } catch {
    return false;
  } finally {
    waiting.delete(started);
  }
}

/** The server's Db, telling a waiting crash (wide.crashInFallback) when a push fails on the data (ServerDatabase.pushOneByOne follows). */
function watchingDataErrors(world: World, db: Db): Db {
  // The fast path pushes with one statement, the others in a transaction: either may be refused.
  const told = <T>(p: Promise<T>): Promise<T> =>
    p.catch((e: unknown) => {
      if (isDataError(e)) reached(world, 'fallback');
      throw e;
    });
  return {
    dialect: db.dialect,
    query: (sql, params) => told(db.query(sql, params)),
    exec: (sql) => db.exec(sql),
    transaction: (fn, o) => told(db.transaction(fn, o)),
    close: () => db.close(),
  };
}

/** Appends the log rows not archived yet to the world's archive; returns the last version read. */
export async function archiveLog(world: World, database: ServerDatabase): Promise<number> {
  const log = await database.readLog();
  const upTo = log.length ? log[log.length - 1]!.version : 0;
  const archived = world.compactedLog.length ? world.compactedLog[world.compactedLog.length - 1]!.version : 0;
  world.compactedLog.push(...log.filter((x) => x.version > archived));
  return upTo;
}

/**
 * A Timer for callers that sleep outside any task (the poke hub's heartbeats): each sleep is a
 * task of its own on the server lane, so a server crash ends it; its continuation only enqueues.
 */
export function detachedTimer(sched: Scheduler): Timer {
  return {
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) =>
        sched.spawn('server', 'poke-heartbeat', async () => {
          try {
            await sched.sleep(ms, signal);
            resolve();
          } catch (e) {
            reject(e);
          }
        }),
      ),
  };
}
