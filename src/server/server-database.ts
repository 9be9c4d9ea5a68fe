import { createRegistry, type EntityData, type Mutation, type MutatorRegistry, type PatchOp, type PullRequest, type PullResponseOK, type PushRequest } from '../protocol/index.ts';
import { quoteIdent, type Db, type Queryable } from '../db/types.ts';
import { cryptoIds, type Clock, type Ids } from '../seams/index.ts';
import { createServerSchema } from './schema.ts';
import { processMutation, type MutationResult } from './push.ts';
import { buildPull } from './pull.ts';
import type { ClientRecord, EntityMap, LogEntry, PushOutcome } from './types.ts';

export interface ServerDatabaseOptions {
  clock: Clock;
  /** Where the database's epoch comes from when it is created (seeded in the simulator). */
  ids?: Ids;
  /** App mutators added to the built-ins (upsert, delete, increment). */
  mutators?: MutatorRegistry;
  /** Most replication-log rows one pull page covers. */
  pageSize?: number;
  /** Postgres schema holding the tables. */
  schema?: string;
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
  readonly pageSize: number;
  readonly schema: string;
  readonly ids: Ids;
  /** This database's identity in cookies; set by migrate(). */
  epoch = '';
  /** The quoted schema name, ready for SQL. */
  protected readonly s: string;

  constructor(db: Db, options: ServerDatabaseOptions) {
    this.db = db;
    this.clock = options.clock;
    this.ids = options.ids ?? cryptoIds;
    this.registry = createRegistry(options.mutators);
    this.pageSize = options.pageSize ?? 500;
    if (!Number.isInteger(this.pageSize) || this.pageSize < 1) throw new Error(`pageSize must be a positive integer, got ${options.pageSize}`);
    this.schema = options.schema ?? 'lockstep';
    this.s = quoteIdent(this.schema);
  }

  static async open<T extends ServerDatabase>(this: new (db: Db, o: ServerDatabaseOptions) => T, db: Db, options: ServerDatabaseOptions): Promise<T> {
    const server = new this(db, options);
    await server.migrate();
    return server;
  }

  protected async migrate(): Promise<void> {
    this.epoch = await createServerSchema(this.db, this.schema, () => this.ids.newId('e'));
  }

  /** Applies a validated push: each mutation in its own transaction, in order. Throws ProtocolError. */
  async push(req: PushRequest): Promise<PushOutcome> {
    let processed = 0;
    let skipped = 0;
    let version = 0;
    let mutations = req.mutations;
    if (mutations.length > 1) {
      // Retries resend what the server already has; skip those with one read instead of a
      // transaction each. Safe because a last mutation id only grows; the per-mutation check
      // inside the transaction stays the authority.
      const ids = [...new Set(mutations.map((m) => m.clientID))];
      const known = await this.db.query<{ client_id: string; client_group_id: string; last_mutation_id: number }>(
        `SELECT client_id, client_group_id, last_mutation_id FROM ${this.s}.clients WHERE client_id = ANY($1::text[])`,
        [ids],
      );
      const last = new Map(known.rows.filter((r) => r.client_group_id === req.clientGroupID).map((r) => [r.client_id, Number(r.last_mutation_id)]));
      mutations = mutations.filter((m) => m.id > (last.get(m.clientID) ?? 0));
      skipped += req.mutations.length - mutations.length;
    }
    for (const m of mutations) {
      const r = await this.db.transaction((tx) => this.applyMutation(tx, req.clientGroupID, m));
      if (r.kind === 'skipped') skipped++;
      else {
        processed++;
        version = r.version;
      }
    }
    return { processed, skipped, version };
  }

  /** One mutation inside the caller's transaction (the step planted-bug variants replace). */
  protected applyMutation(tx: Queryable, clientGroupID: string, m: Mutation): Promise<MutationResult> {
    return processMutation(tx, this.s, this.registry, clientGroupID, m, this.clock.now());
  }

  /** One pull page from one snapshot. Throws ProtocolError (ClientStateNotFound). */
  async pull(req: PullRequest): Promise<PullResponseOK> {
    return this.db.transaction((tx) => buildPull(tx, this.s, req, this.pageSize, this.epoch), { isolation: 'repeatable read', readOnly: true });
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

  async readLog(): Promise<LogEntry[]> {
    const r = await this.db.query<{
      version: number; client_id: string; mutation_id: number; name: string; args: unknown; effects: PatchOp[]; error: string | null; created_at: number;
    }>(`SELECT * FROM ${this.s}.replication_log ORDER BY version`);
    return r.rows.map((row) => ({
      version: Number(row.version),
      clientID: row.client_id,
      mutationID: Number(row.mutation_id),
      name: row.name,
      args: row.args,
      effects: row.effects,
      error: row.error,
      createdAt: Number(row.created_at),
    }));
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

/** The state a replication log describes: its effects applied in version order from empty. */
export function foldLog(log: readonly LogEntry[]): EntityMap {
  const state: EntityMap = new Map();
  for (const entry of [...log].sort((a, b) => a.version - b.version)) {
    for (const e of entry.effects) {
      if (e.op === 'put') state.set(e.key, e.value);
      else if (e.op === 'del') state.delete(e.key);
      else state.clear();
    }
  }
  return new Map([...state.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
