import {
  createRegistry, runMutator, type EntityData, type JSONValue, type Mutation, type MutatorOutcome, type MutatorRegistry, type PatchOp, type PullRequest,
  type PullResponseOK, type PushEnvelope, type PushedMutation,
} from '../protocol/index.ts';
import { quoteIdent, type Db, type Queryable } from '../db/types.ts';
import { cryptoIds, type Clock, type Ids } from '../seams/index.ts';
import { createServerSchema } from './schema.ts';
import { pushBatch, tryFastPush, type BatchContext, type PushBudget } from './batch.ts';
import { buildPull, upToDatePull } from './pull.ts';
import { resolveLimits, type ServerLimits } from './limits.ts';
import { isDataError } from './validate.ts';
import { isElided, type LogEffect } from './log-effects.ts';
import type { ClientRecord, EntityMap, LogEntry, PushOutcome } from './types.ts';
import { compactLog, resolveRetention, type CompactionResult, type Retention } from './compaction.ts';

export interface ServerDatabaseOptions {
  clock: Clock;
  /** Where the database's epoch comes from when it is created (seeded in the simulator). */
  ids?: Ids;
  /** App mutators added to the built-ins (upsert, delete, increment). */
  mutators?: MutatorRegistry;
  /** Most replication-log rows one pull page covers (shorthand for limits.pageSize). */
  pageSize?: number;
  /** Most bytes one pull page carries (shorthand for limits.pageBytes). */
  pageBytes?: number;
  /** Document, args and depth limits, and the work one push or pull page may do. */
  limits?: Partial<ServerLimits>;
  /** Postgres schema holding the tables. */
  schema?: string;
  /** What compact() keeps of the log when called without a retention (default: the last 10,000 versions). */
  retention?: Retention;
}

/**
 * The authoritative store: entities, the replication log with its global version, and each
 * client's last mutation id. Push is idempotent and ordered; pull is one snapshot.
 * Planted-bug variants (src/sim/bugs) override the protected steps.
 */
export class ServerDatabase {
  readonly db: Db;
  readonly clock: Clock;
  readonly registry: MutatorRegistry;
  readonly limits: ServerLimits;
  readonly schema: string;
  readonly ids: Ids;
  readonly retention: Retention;
  /** This database's identity in cookies; set by migrate(). */
  epoch = '';
  /** The quoted schema name, ready for SQL. */
  protected readonly s: string;

  constructor(db: Db, options: ServerDatabaseOptions) {
    this.db = db;
    this.clock = options.clock;
    this.ids = options.ids ?? cryptoIds;
    this.registry = createRegistry(options.mutators);
    this.limits = resolveLimits({ ...options.limits, pageSize: options.pageSize ?? options.limits?.pageSize, pageBytes: options.pageBytes ?? options.limits?.pageBytes });
    this.schema = options.schema ?? 'lockstep';
    this.s = quoteIdent(this.schema);
    this.retention = resolveRetention(options.retention);
  }

  static async open<T extends ServerDatabase>(this: new (db: Db, o: ServerDatabaseOptions) => T, db: Db, options: ServerDatabaseOptions): Promise<T> {
    const server = new this(db, options);
    await server.migrate();
    return server;
  }

  protected async migrate(): Promise<void> {
    this.epoch = await createServerSchema(this.db, this.schema, () => this.ids.newId('e'));
  }

  /**
   * Applies a push whose envelope is valid: one transaction for the whole push (see pushBatch),
   * stopping at the work budget. Throws ProtocolError (403 foreign client, ClientStateNotFound).
   */
  async push(req: PushEnvelope): Promise<PushOutcome> {
    const outcome = await this.pushEnvelope(req);
    if (outcome.version > this.seenVersion) this.seenVersion = outcome.version;
    return outcome;
  }

  /**
   * The highest version a push through this instance committed: a hint for pull only (another
   * process may have committed more, a restored database may be behind it; either way pull
   * stays exact, only its first statement differs).
   */
  private seenVersion = 0;

  /** The push itself (planted bugs replace it: src/sim/bugs/per-mutation-push.ts). */
  protected async pushEnvelope(req: PushEnvelope): Promise<PushOutcome> {
    let mutations = req.mutations;
    let skipped = 0;
    const known: Record<string, number> = {};
    if (mutations.length > 1) {
      // Retries resend what the server already has; skip those with one read instead of a
      // transaction. Safe because a last mutation id only grows; the check inside the
      // transaction stays the authority.
      const ids = [...new Set(mutations.map((m) => m.clientID))];
      const rows = await this.db.query<{ client_id: string; client_group_id: string; last_mutation_id: number }>(
        `SELECT client_id, client_group_id, last_mutation_id FROM ${this.s}.clients WHERE client_id = ANY($1::text[])`,
        [ids],
      );
      // A foreign client goes on to the transaction, which refuses the whole batch.
      if (rows.rows.every((r) => r.client_group_id === req.clientGroupID)) {
        for (const r of rows.rows) known[r.client_id] = Number(r.last_mutation_id);
        mutations = mutations.filter((m) => m.id > (known[m.clientID] ?? 0));
        skipped = req.mutations.length - mutations.length;
        if (mutations.length === 0) return { processed: 0, skipped, version: 0, lastMutationIDs: known, failed: [] };
      }
    }
    const budget: PushBudget = { mutations: this.limits.maxMutationsPerPush, effectBytes: this.limits.maxEffectBytesPerPush };
    const ctx = this.batchContext();
    try {
      const fast = await tryFastPush(this.db, ctx, req.clientGroupID, mutations, budget, new Map(Object.entries(known)));
      if (fast) return { ...fast, skipped, lastMutationIDs: { ...known, ...fast.lastMutationIDs } };
      const r = await this.db.transaction((tx) => pushBatch(tx, ctx, req.clientGroupID, mutations, { ...budget }));
      return { ...r, skipped: r.skipped + skipped, lastMutationIDs: { ...known, ...r.lastMutationIDs } };
    } catch (e) {
      if (!isDataError(e)) throw e;
      const r = await this.pushOneByOne(req.clientGroupID, mutations, budget, skipped);
      return { ...r, lastMutationIDs: { ...known, ...r.lastMutationIDs } };
    }
  }

  /**
   * After PostgreSQL refused a batch's data (SQLSTATE class 22, which validation should have
   * caught): the same mutations one transaction each, and the one refused recorded as failed.
   */
  private async pushOneByOne(clientGroupID: string, mutations: readonly PushedMutation[], budget: PushBudget, skipped: number): Promise<PushOutcome> {
    const out: PushOutcome = { processed: 0, skipped, version: 0, lastMutationIDs: {}, failed: [] };
    const ctx = this.batchContext();
    for (const m of mutations) {
      if (budget.mutations <= 0) break;
      // After a processed mutation, one over what is left of the budget waits for the next push (as in a batch), not fails.
      let attempt = { ...budget, spent: out.processed > 0 };
      let r;
      try {
        r = await this.db.transaction((tx) => pushBatch(tx, ctx, clientGroupID, [m], attempt));
      } catch (e) {
        if (!isDataError(e)) throw e;
        const error = `refused by the database: ${(e as Error).message}`;
        // The refused attempt rolled back, and its use of the budget with it: under a budget of
        // one mutation the record of the failure would otherwise find none left.
        attempt = { ...budget, spent: out.processed > 0 };
        r = await this.db.transaction((tx) => pushBatch(tx, ctx, clientGroupID, [m], attempt, { clientID: m.clientID, id: m.id, error }));
      }
      Object.assign(budget, attempt);
      out.processed += r.processed;
      out.skipped += r.skipped;
      if (r.version) out.version = r.version;
      Object.assign(out.lastMutationIDs!, r.lastMutationIDs);
      out.failed!.push(...r.failed);
      if (r.processed === 0 && r.skipped === 0) break; // stopped by the budget
    }
    return out;
  }

  private batchContext(): BatchContext {
    return { s: this.s, limits: this.limits, now: this.clock.now(), run: (m, read) => this.runMutation(m, read) };
  }

  /** Runs one mutator against a reader (a seam for planted-bug variants). */
  protected runMutation(m: Mutation, read: (key: string) => Promise<EntityData | undefined>): Promise<MutatorOutcome> {
    return runMutator(this.registry, { name: m.name, args: m.args, clientID: m.clientID, mutationID: m.id }, 'server', read);
  }

  /** One pull page from one snapshot. Throws ProtocolError (ClientStateNotFound). */
  async pull(req: PullRequest): Promise<PullResponseOK> {
    // A cookie at the version this instance last committed is likely up to date: answered in one
    // statement if so. One below it has a page to get, from the snapshot, without that check.
    const c = req.cookie;
    if (!(c !== null && typeof c === 'object' && c.order < this.seenVersion)) {
      const upToDate = await upToDatePull(this.db, this.s, req, this.epoch);
      if (upToDate) return upToDate;
    }
    return this.db.transaction((tx) => buildPull(tx, this.s, req, this.limits, this.epoch), { isolation: 'repeatable read', readOnly: true });
  }

  /**
   * Compacts the replication log (see compaction.ts): rows older than the retention keeps are
   * folded per key into the compacted base. Pull stays exact for every cookie at or past the
   * horizon; an older cookie gets the whole current state (a full resync).
   */
  async compact(retention?: Retention): Promise<CompactionResult> {
    const r = await compactLog(this.db, this.s, this.schema, retention === undefined ? this.retention : resolveRetention(retention), this.clock.now());
    // Embedded PGlite has no autovacuum: without this the dropped rows' space is never reused.
    if (r.droppedRows > 0 && this.db.dialect === 'pglite') await this.db.exec(`VACUUM ${this.s}.replication_log, ${this.s}.log_base`);
    return r;
  }

  /** The compaction horizon: log rows at or below it are gone, folded into readLogBase(). */
  async horizon(): Promise<number> {
    const r = await this.db.query<{ horizon: number }>(`SELECT horizon FROM ${this.s}.meta WHERE id = 1`);
    return Number(r.rows[0]!.horizon);
  }

  /** The compacted base: the state at the horizon, by key. foldLog(readLog(), readLogBase()) is the entities. */
  async readLogBase(q: Queryable = this.db): Promise<EntityMap> {
    const r = await q.query<{ key: string; value: EntityData }>(`SELECT key, value FROM ${this.s}.log_base ORDER BY key`);
    return new Map(r.rows.map((row) => [row.key, row.value]));
  }

  async version(): Promise<number> {
    const r = await this.db.query<{ version: number }>(`SELECT version FROM ${this.s}.meta WHERE id = 1`);
    return Number(r.rows[0]!.version);
  }

  /** Live (non-deleted) entities by key. */
  async readEntities(): Promise<EntityMap> {
    const r = await this.db.query<{ key: string; data: EntityData }>(`SELECT key, data FROM ${this.s}.entities WHERE NOT deleted ORDER BY key`);
    return new Map(r.rows.map((row) => [row.key, row.data]));
  }

  /**
   * The replication log in version order, with every write's value: a put the log elided (an
   * earlier write of a key in the same commit, see log-effects.ts) is recomputed by re-running
   * its mutator on the fold of the log before it. The commit's last write of each key is stored,
   * so a mutator that does not reproduce it shows up in a replay check.
   */
  async readLog(): Promise<LogEntry[]> {
    const { r, base } = await this.db.transaction(async (tx) => ({
      r: await tx.query<{
        version: number; client_id: string; mutation_id: number; name: string; args: unknown; effects: LogEffect[]; error: string | null; created_at: number;
      }>(`SELECT version, client_id, mutation_id, name, args, effects, error, created_at FROM ${this.s}.replication_log ORDER BY version`),
      base: await this.readLogBase(tx),
    }), { isolation: 'repeatable read', readOnly: true });
    // Elided puts are recomputed from the fold so far, which starts at the compacted base.
    const state = new Map<string, EntityData>(base);
    const out: LogEntry[] = [];
    for (const row of r.rows) {
      let effects = row.effects;
      if (effects.some(isElided)) {
        const m = { clientID: row.client_id, id: Number(row.mutation_id), name: row.name, args: row.args as JSONValue, timestamp: 0 };
        const rerun = await this.runMutation(m, async (k) => state.get(k));
        const byKey = new Map(rerun.effects.map((e) => [(e as { key: string }).key, e]));
        effects = effects.map((e) => (isElided(e) ? byKey.get(e.key) ?? e : e));
      }
      for (const e of effects) {
        if (isElided(e)) continue;
        if (e.op === 'put') state.set(e.key, e.value);
        else if (e.op === 'del') state.delete(e.key);
      }
      out.push({
        version: Number(row.version),
        clientID: row.client_id,
        mutationID: Number(row.mutation_id),
        name: row.name,
        args: row.args,
        effects: effects as PatchOp[],
        error: row.error,
        createdAt: Number(row.created_at),
      });
    }
    return out;
  }

  async readClients(): Promise<ClientRecord[]> {
    const r = await this.db.query<{ client_id: string; client_group_id: string; last_mutation_id: number; last_modified_version: number }>(
      `SELECT client_id, client_group_id, last_mutation_id, last_modified_version FROM ${this.s}.clients ORDER BY client_id`,
    );
    return r.rows.map((row) => ({
      clientID: row.client_id,
      clientGroupID: row.client_group_id,
      lastMutationID: Number(row.last_mutation_id),
      lastModifiedVersion: Number(row.last_modified_version),
    }));
  }
}

/**
 * The state a replication log describes: its effects applied in version order from the
 * compacted base (readLogBase(); empty when the log was never compacted).
 */
export function foldLog(log: readonly LogEntry[], base: ReadonlyMap<string, EntityData> = new Map()): EntityMap {
  const state: EntityMap = new Map(base);
  for (const entry of [...log].sort((a, b) => a.version - b.version)) {
    for (const e of entry.effects) {
      // An elided put (a key written again later in the same commit) carries no value: skip it.
      if (e.op === 'put') {
        if (e.value !== undefined) state.set(e.key, e.value);
      } else if (e.op === 'del') state.delete(e.key);
      else state.clear();
    }
  }
  return new Map([...state.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
