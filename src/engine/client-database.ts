import { runMutator, type CookieObject, type EntityData, type Mutation, type MutatorRegistry, type PatchOp, type JSONValue } from '../protocol/index.ts';
import { quoteIdent, type Db, type Queryable } from '../db/types.ts';

export interface ClientMeta {
  clientID: string;
  clientGroupID: string;
  /** The server version this client's snapshot is at (null before the first pull). */
  cookie: number | null;
  /** The epoch of the server database that version belongs to. */
  epoch: string | null;
  nextMutationID: number;
  /** Highest mutation id the server has acknowledged through a pull. */
  lastMutationID: number;
}

export interface QuerySpec {
  type?: string;
  id?: string;
  /** Equality on data fields (JSON containment: { status: 'open' }). */
  where?: Record<string, JSONValue>;
  orderBy?: { field: string; direction?: 'asc' | 'desc' };
  limit?: number;
}

export interface EntityRow {
  key: string;
  type: string;
  id: string;
  data: EntityData;
}

/** A keyed change of the visible state: data undefined means the entity is gone. */
export interface EntityChange {
  key: string;
  type: string;
  id: string;
  data: EntityData | undefined;
}

export interface PullApplyResult {
  applied: boolean;
  changes: EntityChange[];
  droppedPending: number;
}

function splitKey(key: string): { type: string; id: string } {
  const i = key.indexOf('/');
  return { type: key.slice(0, i), id: key.slice(i + 1) };
}

/**
 * The client's storage on PGlite, in its own schema so that many clients can share one
 * instance: the confirmed server snapshot, the visible state (snapshot + pending replayed),
 * the durable queue of pending mutations, and the client's identity and cookie.
 * Every multi-statement change runs in one db.transaction.
 */
export class ClientDatabase {
  readonly db: Db;
  readonly schema: string;
  readonly registry: MutatorRegistry;
  protected readonly s: string;
  /** Mutation id order is the only correct one; a planted bug orders by wall clock instead. */
  protected readonly pendingOrder: string = 'mutation_id';

  constructor(db: Db, schema: string, registry: MutatorRegistry) {
    this.db = db;
    this.schema = schema;
    this.registry = registry;
    this.s = quoteIdent(schema);
  }

  /** Creates the tables if needed and returns the stored identity, creating it on first open. */
  async open(newIdentity: () => { clientID: string; clientGroupID: string }): Promise<ClientMeta> {
    const s = this.s;
    return this.db.transaction(async (tx) => {
      await tx.exec(`
        CREATE SCHEMA IF NOT EXISTS ${s};
        CREATE TABLE IF NOT EXISTS ${s}.meta (
          id int PRIMARY KEY CHECK (id = 1),
          client_id text NOT NULL,
          client_group_id text NOT NULL,
          cookie bigint,
          next_mutation_id bigint NOT NULL,
          last_mutation_id bigint NOT NULL
        );
        ALTER TABLE ${s}.meta ADD COLUMN IF NOT EXISTS cookie_epoch text;
        CREATE TABLE IF NOT EXISTS ${s}.snapshot (key text PRIMARY KEY, data jsonb NOT NULL);
        CREATE TABLE IF NOT EXISTS ${s}.visible (key text PRIMARY KEY, type text NOT NULL, id text NOT NULL, data jsonb NOT NULL);
        CREATE INDEX IF NOT EXISTS visible_type_idx ON ${s}.visible (type);
        CREATE TABLE IF NOT EXISTS ${s}.pending (
          mutation_id bigint PRIMARY KEY,
          name text NOT NULL,
          args jsonb NOT NULL,
          timestamp double precision NOT NULL
        );
      `);
      const existing = await this.readMeta(tx);
      if (existing) return existing;
      const ids = newIdentity();
      await tx.query(
        `INSERT INTO ${s}.meta (id, client_id, client_group_id, cookie, next_mutation_id, last_mutation_id, cookie_epoch) VALUES (1, $1, $2, NULL, 1, 0, NULL)`,
        [ids.clientID, ids.clientGroupID],
      );
      return { ...ids, cookie: null, epoch: null, nextMutationID: 1, lastMutationID: 0 };
    });
  }

  async readMeta(q: Queryable = this.db): Promise<ClientMeta | undefined> {
    const r = await q.query<{ client_id: string; client_group_id: string; cookie: number | null; cookie_epoch: string | null; next_mutation_id: number; last_mutation_id: number }>(
      `SELECT client_id, client_group_id, cookie, cookie_epoch, next_mutation_id, last_mutation_id FROM ${this.s}.meta WHERE id = 1`,
    );
    const m = r.rows[0];
    if (!m) return undefined;
    return {
      clientID: m.client_id,
      clientGroupID: m.client_group_id,
      cookie: m.cookie === null ? null : Number(m.cookie),
      epoch: m.cookie_epoch,
      nextMutationID: Number(m.next_mutation_id),
      lastMutationID: Number(m.last_mutation_id),
    };
  }

  protected reader(q: Queryable) {
    return async (key: string) => {
      const r = await q.query<{ data: EntityData }>(`SELECT data FROM ${this.s}.visible WHERE key = $1`, [key]);
      return r.rows[0]?.data;
    };
  }

  /** Applies effects to the visible state in one statement per kind. */
  protected async applyToVisible(q: Queryable, effects: readonly PatchOp[]): Promise<void> {
    const puts: { key: string; type: string; id: string; data: EntityData }[] = [];
    const dels: string[] = [];
    for (const e of effects) {
      if (e.op === 'put') puts.push({ key: e.key, ...splitKey(e.key), data: e.value });
      else if (e.op === 'del') dels.push(e.key);
    }
    if (dels.length) await q.query(`DELETE FROM ${this.s}.visible WHERE key = ANY($1::text[])`, [dels]);
    if (puts.length) {
      await q.query(
        `INSERT INTO ${this.s}.visible (key, type, id, data)
         SELECT key, type, id, data FROM jsonb_to_recordset($1::jsonb) AS r(key text, type text, id text, data jsonb)
         ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data`,
        [JSON.stringify(puts)],
      );
    }
  }

  /**
   * Runs a mutator optimistically and queues it durably, in one transaction. A mutator that
   * throws queues nothing and its error is rethrown, as in Replicache.
   */
  async mutate(name: string, args: unknown, timestamp: number): Promise<{ mutation: Mutation; changes: EntityChange[] }> {
    return this.db.transaction(async (tx) => {
      const meta = await this.readMeta(tx);
      if (!meta) throw new Error('client database is not open');
      const id = meta.nextMutationID;
      const outcome = await runMutator(this.registry, { name, args, clientID: meta.clientID, mutationID: id }, 'client', this.reader(tx));
      if (outcome.error !== undefined) throw new Error(outcome.error);
      await tx.query(
        `WITH p AS (INSERT INTO ${this.s}.pending (mutation_id, name, args, timestamp) VALUES ($1, $2, $3::jsonb, $4))
         UPDATE ${this.s}.meta SET next_mutation_id = $1 + 1 WHERE id = 1`,
        [id, name, JSON.stringify(args ?? null), timestamp],
      );
      await this.applyToVisible(tx, outcome.effects);
      const mutation: Mutation = { clientID: meta.clientID, id, name, args: (args ?? null) as JSONValue, timestamp };
      return { mutation, changes: outcome.effects.map(toChange) };
    });
  }

  /** Pending mutations in id order, those with id > afterID, at most limit of them. */
  async pendingMutations(limit = 1_000_000, q: Queryable = this.db, afterID = 0): Promise<Mutation[]> {
    const meta = await this.readMeta(q);
    const r = await q.query<{ mutation_id: number; name: string; args: JSONValue; timestamp: number }>(
      `SELECT mutation_id, name, args, timestamp FROM ${this.s}.pending WHERE mutation_id > $2 ORDER BY ${this.pendingOrder} LIMIT $1`,
      [limit, afterID],
    );
    return r.rows.map((row) => ({ clientID: meta!.clientID, id: Number(row.mutation_id), name: row.name, args: row.args, timestamp: Number(row.timestamp) }));
  }

  async resetCookie(): Promise<void> {
    await this.db.query(`UPDATE ${this.s}.meta SET cookie = NULL, cookie_epoch = NULL WHERE id = 1`);
  }

  async pendingCount(): Promise<number> {
    const r = await this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${this.s}.pending`);
    return Number(r.rows[0]!.n);
  }

  /**
   * Applies one pull response atomically: drop acknowledged pending mutations, apply the patch
   * to the snapshot, rebuild the visible state as snapshot + remaining pending replayed, and
   * advance the cookie. A response for a cookie other than the stored one is stale and ignored.
   */
  async applyPull(baseCookie: number | null, wire: { cookie: CookieObject; lastMutationIDChanges: Record<string, number>; patch: PatchOp[] }): Promise<PullApplyResult> {
    const resp = { ...wire, cookie: wire.cookie.order };
    const s = this.s;
    return this.db.transaction(async (tx) => {
      const meta = await this.readMeta(tx);
      if (!meta) throw new Error('client database is not open');
      if (meta.cookie !== baseCookie) return { applied: false, changes: [], droppedPending: 0 };
      if (baseCookie !== null && meta.epoch !== wire.cookie.epoch) {
        throw new Error(`server answered from database ${wire.cookie.epoch} to a pull from ${meta.epoch}`);
      }
      if (baseCookie !== null && resp.cookie < baseCookie) {
        throw new Error(`server cookie went back from ${baseCookie} to ${resp.cookie}`);
      }
      const acked = resp.lastMutationIDChanges[meta.clientID];
      const newLast = acked === undefined ? meta.lastMutationID : Math.max(meta.lastMutationID, acked);
      if (acked !== undefined && acked < meta.lastMutationID) {
        throw new Error(`server last mutation id for ${meta.clientID} went back from ${meta.lastMutationID} to ${acked}`);
      }
      if (newLast >= meta.nextMutationID) {
        throw new Error(`server acknowledged mutation ${newLast} of ${meta.clientID}, which this client never created (next is ${meta.nextMutationID})`);
      }
      const dropped = newLast > meta.lastMutationID ? await this.dropAcknowledged(tx, newLast) : 0;
      if (resp.cookie !== baseCookie || newLast !== meta.lastMutationID || meta.epoch !== wire.cookie.epoch) {
        await tx.query(`UPDATE ${s}.meta SET cookie = $1, last_mutation_id = $2, cookie_epoch = $3 WHERE id = 1`, [resp.cookie, newLast, wire.cookie.epoch]);
      }
      if (resp.patch.length === 0 && dropped === 0) return { applied: true, changes: [], droppedPending: 0 };

      const before = await this.visibleMap(tx);
      await this.applyToSnapshot(tx, resp.patch);
      // Rebase: the visible state is rebuilt from the new snapshot, then every still-pending
      // mutation is re-run on top of it, in mutation id order.
      await tx.exec(`DELETE FROM ${s}.visible;
        INSERT INTO ${s}.visible (key, type, id, data)
        SELECT key, split_part(key, '/', 1), substr(key, strpos(key, '/') + 1), data FROM ${s}.snapshot;`);
      for (const m of await this.pendingMutations(1_000_000, tx)) {
        const outcome = await runMutator(this.registry, { name: m.name, args: m.args, clientID: m.clientID, mutationID: m.id }, 'client', this.reader(tx));
        // A pending mutation that now fails is kept (the server decides) but has no local effect.
        await this.applyToVisible(tx, outcome.effects);
      }
      const after = await this.visibleMap(tx);
      return { applied: true, changes: diff(before, after), droppedPending: dropped };
    });
  }

  /** Removes pending mutations the server has acknowledged; returns how many. */
  protected async dropAcknowledged(tx: Queryable, upTo: number): Promise<number> {
    const r = await tx.query(`DELETE FROM ${this.s}.pending WHERE mutation_id <= $1 RETURNING mutation_id`, [upTo]);
    return r.rows.length;
  }

  protected async applyToSnapshot(q: Queryable, patch: readonly PatchOp[]): Promise<void> {
    const s = this.s;
    // Collapse to the last op per key after the last clear, so set-based statements see unique keys.
    let start = 0;
    patch.forEach((op, i) => {
      if (op.op === 'clear') start = i;
    });
    if (patch[start]?.op === 'clear') await q.query(`DELETE FROM ${s}.snapshot`);
    const last = new Map<string, PatchOp>();
    for (const op of patch.slice(start)) if (op.op !== 'clear') last.set(op.key, op);
    const puts = [...last.values()].filter((o): o is Extract<PatchOp, { op: 'put' }> => o.op === 'put').map((o) => ({ key: o.key, data: o.value }));
    const dels = [...last.values()].filter((o) => o.op === 'del').map((o) => (o as { key: string }).key);
    if (dels.length) await q.query(`DELETE FROM ${s}.snapshot WHERE key = ANY($1::text[])`, [dels]);
    if (puts.length) {
      await q.query(
        `INSERT INTO ${s}.snapshot (key, data) SELECT key, data FROM jsonb_to_recordset($1::jsonb) AS r(key text, data jsonb)
         ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data`,
        [JSON.stringify(puts)],
      );
    }
  }

  /**
   * What the visible state must be: the snapshot with every pending mutation replayed in id
   * order. Computed in memory from the stored snapshot and queue, for invariant checks.
   */
  async expectedVisible(): Promise<Map<string, EntityData>> {
    return (await this.rebaseCheck()).expected;
  }

  /** The expected and the stored visible state, read in one transaction so they are comparable. */
  async rebaseCheck(): Promise<{ expected: Map<string, EntityData>; visible: Map<string, EntityData> }> {
    return this.db.transaction(async (tx) => {
      const state = await this.snapshotMap(tx);
      for (const m of await this.pendingMutations(1_000_000, tx)) {
        const outcome = await runMutator(this.registry, { name: m.name, args: m.args, clientID: m.clientID, mutationID: m.id }, 'client', async (k) => state.get(k));
        for (const e of outcome.effects) {
          if (e.op === 'put') state.set(e.key, e.value);
          else if (e.op === 'del') state.delete(e.key);
        }
      }
      const expected = new Map([...state].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      return { expected, visible: await this.visibleMap(tx) };
    });
  }

  /** The confirmed snapshot with the cookie it belongs to, read in one transaction. */
  async snapshotWithCookie(): Promise<{ cookie: number | null; snapshot: Map<string, EntityData> }> {
    return this.db.transaction(async (tx) => ({ cookie: (await this.readMeta(tx))!.cookie, snapshot: await this.snapshotMap(tx) }));
  }

  async visibleMap(q: Queryable = this.db): Promise<Map<string, EntityData>> {
    const r = await q.query<{ key: string; data: EntityData }>(`SELECT key, data FROM ${this.s}.visible ORDER BY key`);
    return new Map(r.rows.map((row) => [row.key, row.data]));
  }

  async snapshotMap(q: Queryable = this.db): Promise<Map<string, EntityData>> {
    const r = await q.query<{ key: string; data: EntityData }>(`SELECT key, data FROM ${this.s}.snapshot ORDER BY key`);
    return new Map(r.rows.map((row) => [row.key, row.data]));
  }

  /** Filters, ordering and limit run in SQL; `where` uses jsonb containment. */
  async query(spec: QuerySpec): Promise<EntityRow[]> {
    const conds: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    if (spec.type !== undefined) conds.push(`type = ${p(spec.type)}`);
    if (spec.id !== undefined) conds.push(`id = ${p(spec.id)}`);
    if (spec.where && Object.keys(spec.where).length) conds.push(`data @> ${p(JSON.stringify(spec.where))}::jsonb`);
    let sql = `SELECT key, type, id, data FROM ${this.s}.visible`;
    if (conds.length) sql += ` WHERE ${conds.join(' AND ')}`;
    if (spec.orderBy) {
      const dir = spec.orderBy.direction === 'desc' ? 'DESC' : 'ASC';
      sql += ` ORDER BY data -> ${p(spec.orderBy.field)} ${dir} NULLS LAST, key`;
    } else sql += ` ORDER BY key`;
    if (spec.limit !== undefined) {
      if (!Number.isInteger(spec.limit) || spec.limit < 0) throw new Error(`limit must be a non-negative integer, got ${spec.limit}`);
      sql += ` LIMIT ${p(spec.limit)}`;
    }
    const r = await this.db.query<EntityRow>(sql, params);
    return r.rows;
  }
}

function toChange(e: PatchOp): EntityChange {
  const key = (e as { key: string }).key;
  return { key, ...splitKey(key), data: e.op === 'put' ? e.value : undefined };
}

function diff(before: Map<string, EntityData>, after: Map<string, EntityData>): EntityChange[] {
  const changes: EntityChange[] = [];
  for (const [key, data] of after) {
    const old = before.get(key);
    if (old === undefined || JSON.stringify(old) !== JSON.stringify(data)) changes.push({ key, ...splitKey(key), data });
  }
  for (const key of before.keys()) if (!after.has(key)) changes.push({ key, ...splitKey(key), data: undefined });
  return changes;
}
