import { ClientDatabase, type ClientMeta } from '../engine/client-database.ts';
import { defaultLimits, createRegistry, type EntityData, type MutatorRegistry, type PatchOp } from '../protocol/index.ts';
import type { LogEntry } from '../server/types.ts';
import { quoteIdent, type Db, type Queryable } from '../db/types.ts';
import type { BugVariant } from './bugs/types.ts';
import type { CheckerModule, ObserveContext, Violation } from './checkers/types.ts';
import { exceptionViolation } from './findings.ts';
import type { Rng } from './rng.ts';
import type { Scheduler } from './scheduler.ts';
import type { SimDb } from './sim-db.ts';
import type { Observation, SimClient } from './world-types.ts';

interface Request {
  client: SimClient;
  generation: number;
  schema: string;
  clientID: string;
  t: number;
}

/**
 * Observation for the live checkers, outside the scheduler: a pull only queues a request; the
 * scheduler runs the queue between two task steps, when neither simulated database is inside a
 * statement or transaction, on the real databases underneath. No virtual time passes, no task
 * runs and no run random stream is drawn, so a run's trace does not depend on how often it is
 * checked. (Reads here are the only place the simulator uses the store's checker hooks.)
 */
export class Observer {
  private readonly queue: Request[] = [];
  private readonly sched: Scheduler;
  private readonly clientDb: SimDb;
  private readonly serverDb: SimDb;
  private readonly serverSchema: string;
  private readonly compactedLog: readonly LogEntry[];
  private readonly rng: Rng;
  private readonly rate: number;
  private readonly modules: readonly CheckerModule[];
  private readonly bug: BugVariant | undefined;
  /** An app simulation's mutators, so that the rebase check replays them too. */
  private readonly mutators: MutatorRegistry | undefined;
  readonly observations: Observation[] = [];
  readonly violations: Violation[] = [];
  /** How many times each checker's observe hook ran (the sweep's checker coverage). */
  readonly counts: Record<string, number> = {};
  private readonly log: LogCache;
  private readonly base: BaseCache;
  /** The client database as the checkers read it (see readOnlyView). */
  private readonly readDb: Db;

  constructor(o: { sched: Scheduler; clientDb: SimDb; serverDb: SimDb; serverSchema: string; compactedLog?: readonly LogEntry[]; rng: Rng; rate: number; modules: readonly CheckerModule[]; bug: BugVariant | undefined; mutators?: MutatorRegistry }) {
    this.sched = o.sched;
    this.clientDb = o.clientDb;
    this.serverDb = o.serverDb;
    this.serverSchema = o.serverSchema;
    this.compactedLog = o.compactedLog ?? [];
    this.rng = o.rng;
    this.rate = o.rate;
    this.modules = o.modules;
    this.bug = o.bug;
    this.mutators = o.mutators;
    this.log = new LogCache(o.serverDb.inner, o.serverSchema);
    this.base = new BaseCache(o.serverDb.inner, o.serverSchema);
    this.readDb = readOnlyView(o.clientDb.inner);
  }

  /** After a pull: observe this client when the databases are next free. */
  request(client: SimClient, clientID: string): void {
    this.queue.push({ client, generation: client.generation, schema: client.schema, clientID, t: this.sched.now });
  }

  /**
   * Set while the server is down for a storage change (withServerDown): its schema may be gone or
   * half rebuilt, so queued observations wait until it is up again (reading it then failed with
   * "relation ... does not exist", an engine-error of nobody's making).
   */
  paused = false;

  get pending(): number {
    return this.queue.length;
  }

  /** Runs queued observations while both databases are free (called by the scheduler between steps). */
  async flush(): Promise<void> {
    while (!this.paused && this.queue.length > 0 && !this.sched.isLocked(this.clientDb.lockName) && !this.sched.isLocked(this.serverDb.lockName)) {
      const r = this.queue.shift()!;
      // A wiped client's schema is gone: its observations went with it.
      if (r.client.generation !== r.generation) continue;
      try {
        await this.observe(r);
      } catch (e) {
        this.violations.push(exceptionViolation(e, { lane: r.client.name, clientID: r.clientID, t: r.t }, 'engine-error'));
      }
    }
  }

  private async observe(r: Request): Promise<void> {
    const create = this.bug?.createStore ?? ((db, schema, registry, limits) => new ClientDatabase(db, schema, registry, limits));
    const store = create(this.readDb, r.schema, createRegistry(this.mutators), defaultLimits);
    const meta = await store.readMeta();
    if (!meta) return;
    servedOnce(store, meta);
    // The server's meta row, read once and only if a checker asks (epoch and horizon).
    let serverMeta: Promise<{ epoch: string | null; horizon: number }> | undefined;
    const readServerMeta = () =>
      (serverMeta ??= this.serverDb.inner
        .query<{ epoch: string | null; horizon: number | null }>(`SELECT epoch, horizon FROM "${this.serverSchema}".meta WHERE id = 1`)
        .then((e) => ({ epoch: e.rows[0]?.epoch ?? null, horizon: Number(e.rows[0]?.horizon ?? 0) })));
    this.observations.push({ clientID: meta.clientID, lane: r.client.name, t: r.t, cookie: meta.cookie, lastMutationID: meta.lastMutationID });
    const ctx: ObserveContext = {
      lane: r.client.name,
      clientID: meta.clientID,
      t: r.t,
      store,
      clientEpoch: meta.epoch,
      serverEpoch: async () => (await readServerMeta()).epoch,
      serverLog: async (upTo) => {
        // After a compaction: at or past the horizon, the compacted base (as one entry at the
        // horizon) and the log above it (compaction deleted the rows at or below it, so the
        // incremental cache serves those as it does before any compaction); below it, the entries
        // the compaction fault archived.
        const { horizon } = await readServerMeta();
        if (horizon === 0) return this.log.upTo(upTo);
        if (upTo < horizon) return this.compactedLog.filter((e) => e.version <= upTo);
        const rows = await this.log.upTo(upTo);
        return [{ version: horizon, effects: await this.base.read() } as LogEntry, ...rows];
      },
      sample: () => this.rng.chance(this.rate),
    };
    for (const m of this.modules) {
      if (!m.observe) continue;
      this.counts[m.name] = (this.counts[m.name] ?? 0) + 1;
      for (const v of await m.observe(ctx)) {
        this.violations.push(v);
        this.sched.record(v.lane ?? 'sim', 'violation', `${v.checker} ${v.key ?? ''}`.trim());
      }
    }
  }
}

/**
 * Nothing changes while an observation runs, so the checkers' reads of the client's meta and
 * snapshot (the rebase and snapshot checks each read both) are served from one read each. The
 * snapshot comes back as a fresh copy: a checker may fold into it.
 */
function servedOnce(store: ClientDatabase, meta: ClientMeta): void {
  const readSnapshot = store.snapshotMap.bind(store);
  let snapshot: Promise<Map<string, EntityData>> | undefined;
  store.readMeta = async () => ({ ...meta });
  store.snapshotMap = async () => new Map(await (snapshot ??= readSnapshot()));
}

/**
 * The real database for observation reads, whose "transaction" runs its reads without BEGIN and
 * COMMIT: observation runs only while no task is inside a statement or transaction and no task
 * runs until it ends, so consecutive reads already see one state; BEGIN and COMMIT were two
 * more round trips into PGlite per sampled check. Checkers only read.
 */
function readOnlyView(db: Db): Db {
  return {
    dialect: db.dialect,
    query: (sql, params) => db.query(sql, params),
    exec: (sql) => db.exec(sql),
    transaction: (fn) => fn(db),
    close: async () => {},
  };
}

/**
 * The server's replication log as the snapshot checker reads it, fetched incrementally: reading
 * the whole log at every observation cost O(log) rows of jsonb per pull (at 1,000 clients the
 * largest single cost of a run). Observation runs only while no transaction is open, and versions
 * are taken in commit order, so rows up to the highest version seen are final; a fingerprint of
 * them (count and the sum of xmin, which any insert, delete or update below it changes) is
 * checked at each read, and the cache starts over if it moved (a compaction, a restore).
 */
export class LogCache {
  private readonly db: Queryable;
  private readonly table: string;
  private entries: LogEntry[] = [];
  /** Highest version fetched (rows at or below it are in `entries`). */
  private through = Number.MIN_SAFE_INTEGER;
  private xminSum = 0n;

  constructor(db: Queryable, schema: string) {
    this.db = db;
    this.table = `${quoteIdent(schema)}.replication_log`;
  }

  async upTo(upTo: number): Promise<LogEntry[]> {
    if (this.entries.length > 0) {
      const f = await this.db.query<{ n: number; x: string }>(`SELECT count(*)::int AS n, coalesce(sum(xmin::text::bigint), 0)::text AS x FROM ${this.table} WHERE version <= $1`, [this.through]);
      const row = f.rows[0]!;
      if (Number(row.n) !== this.entries.length || BigInt(row.x) !== this.xminSum) {
        this.entries = [];
        this.through = Number.MIN_SAFE_INTEGER;
        this.xminSum = 0n;
      }
    }
    if (upTo > this.through) {
      const r = await this.db.query<{ version: number; effects: PatchOp[]; x: string }>(`SELECT version, effects, xmin::text AS x FROM ${this.table} WHERE version > $1 AND version <= $2 ORDER BY version`, [this.through, upTo]);
      for (const row of r.rows) {
        this.entries.push({ version: Number(row.version), effects: row.effects } as LogEntry);
        this.xminSum += BigInt(row.x);
      }
      if (r.rows.length > 0) this.through = this.entries[this.entries.length - 1]!.version;
    }
    // Entries are in version order: the prefix at or below upTo.
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid]!.version <= upTo) lo = mid + 1;
      else hi = mid;
    }
    return this.entries.slice(0, lo);
  }
}

/**
 * The server's compacted base (log_base) as put effects, read again only when its fingerprint
 * (count and the sum of xmin, as LogCache's) moved: a compaction, a storage loss or a restore.
 * Reading every base row's jsonb at every observation after a compaction was the observer's
 * largest cost in chaos runs.
 */
export class BaseCache {
  private readonly db: Queryable;
  private readonly table: string;
  private fp: string | null = null;
  private effects: PatchOp[] = [];

  constructor(db: Queryable, schema: string) {
    this.db = db;
    this.table = `${quoteIdent(schema)}.log_base`;
  }

  async read(): Promise<PatchOp[]> {
    const f = (await this.db.query<{ n: number; x: string }>(`SELECT count(*)::int AS n, coalesce(sum(xmin::text::bigint), 0)::text AS x FROM ${this.table}`)).rows[0]!;
    const fp = `${f.n}/${f.x}`;
    if (fp !== this.fp) {
      const base = await this.db.query<{ key: string; value: EntityData }>(`SELECT key, value FROM ${this.table}`);
      this.effects = base.rows.map((b): PatchOp => ({ op: 'put', key: b.key, value: b.value }));
      this.fp = fp;
    }
    return this.effects;
  }
}
