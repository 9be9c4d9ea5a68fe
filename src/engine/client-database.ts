import { builtinMutators, defaultLimits, maxOriginsPerMutation, runMutator, valueProblem, entityKey, parseKey, type CookieObject, type EntityData, type Limits, type Mutation, type MutatorRegistry, type Origin, type PatchOp, type EffectOp, type JSONValue } from '../protocol/index.ts';
import { quoteIdent, type Db, type Queryable } from '../db/types.ts';
import { jsonChunks } from './json-chunks.ts';
import { DocumentCache } from './document-cache.ts';

/** Default of ClientDatabase.applyChunkBytes: 256 KiB of JSON per statement of a pull's apply. */
export const defaultApplyChunkBytes = 256 * 1024;

export interface ClientMeta {
  clientID: string;
  clientGroupID: string;
  /** The server version this client's snapshot is at (null before the first pull). */
  cookie: number | null;
  /** The epoch of the server database that version belongs to. */
  epoch: string | null;
  /** The cookie's fingerprint (which mutation took that version), returned to the server as is. */
  fp: string | null;
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

/** A local write refused before anything was queued: its args or a document it writes break a limit, or its mutator failed. */
export class MutationRejectedError extends Error {
  override name = 'MutationRejectedError';
}

/** What a reset of the client's identity did (the server lost this client's state). */
export interface IdentityReset {
  previousClientID: string;
  clientID: string;
  /** Pending mutations re-queued under the new client id, renumbered 1..n in their order. */
  requeued: { from: number; to: number }[];
}

/** A mutation as queueAndApply writes it. */
export interface QueuedMutation {
  clientID: string;
  id: number;
  name: string;
  args: unknown;
  timestamp: number;
  origins?: Origin[];
}

/** The SQLSTATE queue_and_apply raises when it wrote nothing because the write is stale (a class no PostgreSQL error uses). */
const staleWriteCode = 'LS409';

/** A string as an SQL literal, safe whatever standard_conforming_strings says (as node-postgres' escapeLiteral). */
function sqlLiteral(v: string): string {
  const quoted = v.replaceAll("'", "''");
  return v.includes('\\') ? ` E'${quoted.replaceAll('\\', '\\\\')}'` : `'${quoted}'`;
}

/** The reads as a JSON array, each document's JSON text inlined as read (never parsed and encoded again). */
function readsJSON(reads: readonly { key: string; data: string | null }[]): string {
  return `[${reads.map((r) => `{"key":${JSON.stringify(r.key)},"data":${r.data ?? 'null'}}`).join(',')}]`;
}

/** queue_and_apply's text arguments after the id: client id, name, args, origins, puts, dels, reads (null: SQL NULL). */
function queueAndApplyValues(m: QueuedMutation, effects: readonly EffectOp[], reads: { key: string; data: string | null }[] | null): (string | null)[] {
  const puts: { key: string; data: EntityData }[] = [];
  const dels: string[] = [];
  for (const e of effects) {
    if (e.op === 'put') puts.push({ key: e.key, data: e.value });
    else dels.push(e.key);
  }
  return [m.clientID, m.name, JSON.stringify(m.args), m.origins?.length ? JSON.stringify(m.origins) : null, JSON.stringify(puts), JSON.stringify(dels), reads?.length ? readsJSON(reads) : null];
}

/** A local write of the deferred mode, run in memory and not yet stored: what its mutator read (JSON text, null: absent) and wrote. */
export interface DeferredWrite {
  mutation: Mutation;
  effects: EffectOp[];
  reads: { key: string; data: string | null }[];
}

/** PL/pgSQL: raise LS409 (`raise`: the message and its arguments) if a document read (`reads`, JSON null: absent) is no longer the visible one. */
function staleReadsCheck(raise: string): string {
  return `IF reads IS NOT NULL AND EXISTS (
        SELECT 1 FROM json_to_recordset(reads) AS r(key text, data jsonb) LEFT JOIN visible v ON v.key = r.key
         WHERE v.data IS DISTINCT FROM r.data) THEN
        RAISE EXCEPTION ${raise} USING ERRCODE = '${staleWriteCode}';
      END IF;`;
}

/** PL/pgSQL: the visible state takes the writes' deleted keys (`dels`) and final documents (`puts`). */
function visibleWrite(): string {
  return `IF json_array_length(dels) > 0 THEN
        DELETE FROM visible WHERE key IN (SELECT json_array_elements_text(dels));
      END IF;
      INSERT INTO visible (key, type, id, data)
        SELECT key, split_part(key, '/', 1), substr(key, strpos(key, '/') + 1), data FROM json_to_recordset(puts) AS r(key text, data jsonb)
        ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data;`;
}

/**
 * The client functions live in one schema per instance, each taking the client's schema first:
 * many clients share the simulator's instance, and a set per client schema cost ~130 KB each of
 * PL/pgSQL and plan caches in PostgreSQL's heap (wasm memory, which never shrinks), plus its
 * catalog rows. A call points search_path at the client's schema for its own transaction; a
 * cached plan made under another search_path is made again (PostgreSQL checks), so one client
 * per instance, as in production, keeps its plans. Named by a hash of their text: a changed
 * function is a new one, and an instance never runs an older body.
 */
const functionSchema = 'lockstep_client';

/** A PL/pgSQL function of the shared schema: `sch` (the client's schema) then `params`; the body's table names are the client's. */
function sharedFunction(name: string, params: string, body: string): { name: string; signature: string; create: string } {
  const text = `${params}\n${body}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  const qualified = `${functionSchema}.${name}_${h.toString(36)}`;
  const types = params.split(',').map((p) => p.trim().split(/\s+/).slice(1).join(' '));
  return {
    name: qualified,
    signature: `${qualified}(${['text', ...types].join(', ')})`,
    create: `CREATE FUNCTION ${qualified}(sch text, ${params})
    RETURNS void LANGUAGE plpgsql AS $fn$
    DECLARE
      caller_path text := current_setting('search_path');
    BEGIN
      PERFORM set_config('search_path', quote_ident(sch), true);
${body}
      PERFORM set_config('search_path', caller_path, true);
    END $fn$;`,
  };
}

/**
 * One local write as one statement (see ClientDatabase.queueAndApply). Checks first, so a stale
 * write changes nothing: the documents the mutator read (JSON null: absent), then the identity
 * and next id, which it advances.
 */
const queueAndApplyFunction = sharedFunction(
  'queue_and_apply',
  'mid bigint, cid text, mname text, margs jsonb, ts double precision, orig jsonb, puts json, dels json, reads json',
  `${staleReadsCheck("'local write % of % read a document that changed since', mid, cid")}
      UPDATE meta SET next_mutation_id = mid + 1 WHERE id = 1 AND client_id = cid AND next_mutation_id = mid;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'local write % of % found the identity or next id moved', mid, cid USING ERRCODE = '${staleWriteCode}';
      END IF;
      INSERT INTO pending (mutation_id, name, args, timestamp, origins) VALUES (mid, mname, margs, ts, orig);
${visibleWrite()}`,
);

/**
 * A flush of the deferred mode's writes as one call (see ClientDatabase.flushDeferred): checks
 * the documents they read from outside the batch, then the identity and next id, which it moves
 * past the batch; queues them all and writes each key's final document. Set-based: one call
 * cost about a tenth of a queue_and_apply per write.
 */
const queueAndApplyBatchFunction = sharedFunction(
  'queue_and_apply_batch',
  'first_mid bigint, n int, cid text, muts json, puts json, dels json, reads json',
  `${staleReadsCheck("'deferred writes % of % read a document that changed since', first_mid, cid")}
      UPDATE meta SET next_mutation_id = first_mid + n WHERE id = 1 AND client_id = cid AND next_mutation_id = first_mid;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'deferred writes % of % found the identity or next id moved', first_mid, cid USING ERRCODE = '${staleWriteCode}';
      END IF;
      INSERT INTO pending (mutation_id, name, args, timestamp, origins)
        SELECT id, name, args, ts, origins FROM json_to_recordset(muts) AS r(id bigint, name text, args jsonb, ts double precision, origins jsonb);
${visibleWrite()}`,
);

/**
 * The shared functions, created once per instance (a DO block: CREATE OR REPLACE at every open
 * would rewrite their catalog rows and throw their compiled code away); what older stores had
 * (their own copies of the functions, the stage table) moved or dropped.
 */
function clientFunctionsDDL(s: string): string {
  const fns = [queueAndApplyFunction, queueAndApplyBatchFunction];
  return `DO $do$ BEGIN
      ${fns.map((f) => `IF to_regprocedure('${f.signature}') IS NULL THEN
        CREATE SCHEMA IF NOT EXISTS ${functionSchema};
        ${f.create}
      END IF;`).join('\n      ')}
      -- A query by type reads the key's prefix (type/) from the primary key: an index on type
      -- was one more relation per client, kept up on every write.
      IF to_regclass('${s}.visible_type_idx') IS NOT NULL THEN
        DROP INDEX ${s}.visible_type_idx;
      END IF;
      -- A store made when the staged bootstrap's cookie had a table of its own (stage).
      IF to_regclass('${s}.stage') IS NOT NULL THEN
        UPDATE ${s}.meta m SET stage_client_id = st.client_id, stage_cookie = st.cookie FROM ${s}.stage st WHERE m.id = 1 AND st.id = 1;
        DROP TABLE ${s}.stage;
      END IF;
      IF to_regprocedure('${s}.queue_and_apply(bigint, text, text, jsonb, double precision, jsonb, json, json, json)') IS NOT NULL THEN
        DROP FUNCTION ${s}.queue_and_apply(bigint, text, text, jsonb, double precision, jsonb, json, json, json);
      END IF;
      IF to_regprocedure('${s}.queue_and_apply_batch(bigint, int, text, json, json, json, json)') IS NOT NULL THEN
        DROP FUNCTION ${s}.queue_and_apply_batch(bigint, int, text, json, json, json, json);
      END IF;
    END $do$;`;
}

interface MetaRow {
  client_id: string; client_group_id: string; cookie: number | null; cookie_epoch: string | null; cookie_fp: string | null;
  next_mutation_id: number; last_mutation_id: number;
}

function metaFromRow(m: MetaRow): ClientMeta {
  return {
    clientID: m.client_id,
    clientGroupID: m.client_group_id,
    cookie: m.cookie === null ? null : Number(m.cookie),
    epoch: m.cookie_epoch,
    fp: m.cookie_fp,
    nextMutationID: Number(m.next_mutation_id),
    lastMutationID: Number(m.last_mutation_id),
  };
}

/** The protocol's own parse (a key without a type is an error there, not an entity of type ''). */
const splitKey = parseKey;

/**
 * The client's storage on PGlite, in its own schema so that many clients can share one
 * instance: the confirmed server snapshot, the visible state (snapshot + pending replayed),
 * the durable queue of pending mutations, and the client's identity and cookie.
 * Every multi-statement change runs in one db.transaction. Its protected steps are what the
 * simulator's planted bugs override, through EngineOptions.simulation (see simulation.ts).
 */
export class ClientDatabase {
  readonly db: Db;
  readonly schema: string;
  readonly registry: MutatorRegistry;
  readonly limits: Limits;
  protected readonly s: string;
  /**
   * The client id and next mutation id as this instance last wrote them, so that a local write
   * need not read meta first; the write checks them in its own statement (see queueAndApply).
   */
  private writer: { clientID: string; nextMutationID: number } | undefined;
  /** Documents local writes read or wrote, so the next write's mutator reads them from memory (a hint: see DocumentCache). PersistentSyncEngine sizes it from its option. */
  documentCache = new DocumentCache();
  /**
   * Most JSON (in characters: bytes for ASCII) one statement of a pull's apply carries; a page
   * is written in chunks of it, in its one transaction (see jsonChunks: PGlite's heap grows to the
   * largest statement and never shrinks). PersistentSyncEngine sets it from its option.
   */
  applyChunkBytes = defaultApplyChunkBytes;

  constructor(db: Db, schema: string, registry: MutatorRegistry, limits: Limits = defaultLimits) {
    this.db = db;
    this.schema = schema;
    this.registry = registry;
    this.limits = limits;
    this.s = quoteIdent(schema);
  }

  /** Creates the tables if needed and returns the stored identity, creating it on first open. */
  async open(newIdentity: () => { clientID: string; clientGroupID: string }): Promise<ClientMeta> {
    const s = this.s;
    return this.db.transaction(async (tx) => {
      await tx.exec(`
        CREATE SCHEMA IF NOT EXISTS ${s};
        -- meta holds one small row: STORAGE PLAIN spares it a TOAST table and its index (two
        -- relations per client, each files and cache entries in a shared instance).
        CREATE TABLE IF NOT EXISTS ${s}.meta (
          id int PRIMARY KEY CHECK (id = 1),
          client_id text STORAGE PLAIN NOT NULL,
          client_group_id text STORAGE PLAIN NOT NULL,
          cookie bigint,
          next_mutation_id bigint NOT NULL,
          last_mutation_id bigint NOT NULL,
          cookie_epoch text STORAGE PLAIN,
          cookie_fp text STORAGE PLAIN,
          -- A staged bootstrap (src/server/pull.ts basePage) in progress: the client id that asked
          -- and the cookie to continue with (both NULL: none). Here rather than in a table of its
          -- own: a pull reads it with meta, and a table is a relation per client.
          stage_client_id text STORAGE PLAIN,
          stage_cookie jsonb STORAGE PLAIN
        );
        -- Stores made before these columns existed.
        ALTER TABLE ${s}.meta ADD COLUMN IF NOT EXISTS cookie_epoch text;
        ALTER TABLE ${s}.meta ADD COLUMN IF NOT EXISTS cookie_fp text;
        ALTER TABLE ${s}.meta ADD COLUMN IF NOT EXISTS stage_client_id text STORAGE PLAIN;
        ALTER TABLE ${s}.meta ADD COLUMN IF NOT EXISTS stage_cookie jsonb STORAGE PLAIN;
        CREATE TABLE IF NOT EXISTS ${s}.snapshot (key text PRIMARY KEY, data jsonb NOT NULL);
        CREATE TABLE IF NOT EXISTS ${s}.visible (key text PRIMARY KEY, type text NOT NULL, id text NOT NULL, data jsonb NOT NULL);
        CREATE TABLE IF NOT EXISTS ${s}.pending (
          mutation_id bigint PRIMARY KEY,
          name text NOT NULL,
          args jsonb NOT NULL,
          timestamp double precision NOT NULL,
          -- A re-queued mutation's earlier identities (see origins in protocol/push.ts); NULL for most.
          origins jsonb
        );
        ALTER TABLE ${s}.pending ADD COLUMN IF NOT EXISTS origins jsonb;
        -- A staged bootstrap's pages of a full state, kept apart until the last one arrives.
        CREATE TABLE IF NOT EXISTS ${s}.staged (key text PRIMARY KEY, data jsonb NOT NULL);
        ${clientFunctionsDDL(s)}
      `);
      const existing = await this.readMeta(tx);
      if (existing) {
        this.writer = { clientID: existing.clientID, nextMutationID: existing.nextMutationID };
        return existing;
      }
      const ids = newIdentity();
      await tx.query(
        `INSERT INTO ${s}.meta (id, client_id, client_group_id, cookie, next_mutation_id, last_mutation_id, cookie_epoch) VALUES (1, $1, $2, NULL, 1, 0, NULL)`,
        [ids.clientID, ids.clientGroupID],
      );
      this.writer = { clientID: ids.clientID, nextMutationID: 1 };
      return { ...ids, cookie: null, epoch: null, fp: null, nextMutationID: 1, lastMutationID: 0 };
    });
  }

  async readMeta(q: Queryable = this.db): Promise<ClientMeta | undefined> {
    return (await this.readMetaAndStage(q))?.meta;
  }

  /**
   * Meta and the staged bootstrap's cookie in one statement: a pull needs both, before its
   * request and again inside its apply, and statements are most of a client's cost.
   */
  async readMetaAndStage(q: Queryable = this.db): Promise<{ meta: ClientMeta; stage: CookieObject | null; stageClientID: string | null } | undefined> {
    const r = await q.query<MetaRow & { stage_client_id: string | null; stage_cookie: CookieObject | null }>(
      `SELECT m.client_id, m.client_group_id, m.cookie, m.cookie_epoch, m.cookie_fp, m.next_mutation_id, m.last_mutation_id,
              m.stage_client_id, m.stage_cookie
         FROM ${this.s}.meta m WHERE m.id = 1`,
    );
    const m = r.rows[0];
    if (!m) return undefined;
    const meta = metaFromRow(m);
    return { meta, stageClientID: m.stage_client_id, stage: m.stage_client_id === meta.clientID ? m.stage_cookie : null };
  }

  /** Meta and the number of pending mutations in one statement (the engine's getState). */
  async readMetaAndPendingCount(): Promise<{ meta: ClientMeta; pendingCount: number } | undefined> {
    const r = await this.db.query<MetaRow & { pending_count: number }>(
      `SELECT client_id, client_group_id, cookie, cookie_epoch, cookie_fp, next_mutation_id, last_mutation_id,
              (SELECT count(*)::int FROM ${this.s}.pending) AS pending_count
         FROM ${this.s}.meta WHERE id = 1`,
    );
    const m = r.rows[0];
    return m && { meta: metaFromRow(m), pendingCount: Number(m.pending_count) };
  }

  protected reader(q: Queryable) {
    return async (key: string) => {
      const r = await q.query<{ data: EntityData }>(`SELECT data FROM ${this.s}.visible WHERE key = $1`, [key]);
      return r.rows[0]?.data;
    };
  }

  /**
   * Runs a mutator optimistically and queues it durably: it resolves once the mutation, the next
   * id and its effects are committed together. A mutator that throws queues nothing and its
   * error is rethrown, as in Replicache. Args and written documents are checked against the
   * limits first: a write the server would refuse forever must never enter the queue (it would
   * be retried on every sync). `origins`: the earlier identities of a mutation adopted from
   * another client (a move to a new client group). Concurrent writes each commit whole and
   * checked, in the order they reach the database (PersistentSyncEngine runs its writes one at
   * a time, in call order).
   */
  async mutate(name: string, args: unknown, timestamp: number, origins?: Origin[], adopted = false): Promise<{ mutation: Mutation; changes: EntityChange[] }> {
    const problem = valueProblem(args ?? null, this.limits.maxArgsBytes, this.limits.maxDepth);
    if (problem) throw new MutationRejectedError(`mutation "${name}" refused, nothing queued: args ${problem}`);
    const fast = this.writer ? await this.mutateAutocommit(this.writer, name, args, timestamp, origins) : undefined;
    if (fast) return fast;
    // No remembered identity, or it moved (a reset, another instance), or a read changed before
    // the write, or the mutator failed on reads that may not be one state: once more in a
    // transaction, from the stored meta, where nothing can move in between.
    return this.mutateInTransaction(name, args, timestamp, origins, adopted);
  }

  /**
   * The usual local write, with no BEGIN/COMMIT: the mutator's reads are standalone statements
   * and the write is one call of queue_and_apply, which commits on its own and writes nothing
   * unless the identity, the next id and every document read are still as they were (a pull
   * may commit in between). Undefined: nothing written, take the transactional path.
   */
  private async mutateAutocommit(writer: { clientID: string; nextMutationID: number }, name: string, args: unknown, timestamp: number, origins: Origin[] | undefined) {
    const id = writer.nextMutationID;
    const reads: { key: string; data: string | null }[] = [];
    const read = async (key: string) => {
      let text = this.documentCache.get(key);
      if (text === undefined) {
        const r = await this.db.query<{ data: string }>(`SELECT data::text AS data FROM ${this.s}.visible WHERE key = $1`, [key]);
        text = r.rows[0]?.data ?? null;
        this.documentCache.set(key, text);
      }
      reads.push({ key, data: text });
      return text === null ? undefined : (JSON.parse(text) as EntityData);
    };
    const outcome = await runMutator(this.registry, { name, args, clientID: writer.clientID, mutationID: id }, 'client', read, { limits: this.limits });
    if (outcome.error !== undefined) return undefined;
    const done = await this.queued(this.db, { clientID: writer.clientID, id, name, args: args ?? null, timestamp, origins }, outcome.effects, reads);
    // Something else wrote (a pull, another instance): what this instance remembers may be stale.
    if (!done) this.documentCache.clear();
    return done;
  }

  private mutateInTransaction(name: string, args: unknown, timestamp: number, origins: Origin[] | undefined, adopted: boolean) {
    return this.db.transaction(async (tx) => {
      const meta = await this.readMeta(tx);
      if (!meta) throw new Error('client database is not open');
      const id = meta.nextMutationID;
      const outcome = await runMutator(this.registry, { name, args, clientID: meta.clientID, mutationID: id }, 'client', this.reader(tx), { limits: this.limits });
      // An adopted mutation (engine.adopt, a move to a new group) was accepted once already: it is
      // queued even when its mutator fails on this store's state (a fresh store may not hold what
      // it reads yet); the server decides, and until then it shows no local effect.
      if (outcome.error !== undefined && !adopted) throw new MutationRejectedError(outcome.error);
      const effects = outcome.error !== undefined ? [] : outcome.effects;
      const done = await this.queued(tx, { clientID: meta.clientID, id, name, args: args ?? null, timestamp, origins }, effects, null);
      if (!done) throw new Error(`local write ${meta.clientID}/${id} found its own transaction's meta moved`);
      return done;
    });
  }

  /** Writes one mutation (see queueAndApply) and remembers the next id; undefined if nothing was written. */
  private async queued(q: Queryable, m: QueuedMutation, effects: readonly EffectOp[], reads: { key: string; data: string | null }[] | null) {
    if (!(await this.queueAndApply(q, m, effects, reads))) {
      this.writer = undefined;
      return undefined;
    }
    // Remembered before a transaction's COMMIT: if that fails, the next write's check finds it stale.
    this.writer = { clientID: m.clientID, nextMutationID: m.id + 1 };
    for (const e of effects) this.documentCache.set(e.key, e.op === 'put' ? JSON.stringify(e.value) : null);
    const mutation: Mutation = { clientID: m.clientID, id: m.id, name: m.name, args: m.args as JSONValue, timestamp: m.timestamp, ...(m.origins?.length ? { origins: m.origins } : {}) };
    return { mutation, changes: effects.map(toChange) };
  }

  /**
   * A local write in one statement, a call of the shared queue_and_apply on this schema (created by open;
   * a PL/pgSQL function keeps its plans, where the equivalent CTE was planned on every write,
   * about 0.8 ms of the 1.1 ms a write cost): queue the mutation, advance the next id and apply
   * its effects to the visible state, if the stored client id and next id are still the ones
   * the write was made with and each document in `reads` (JSON text, null: absent) is still the
   * visible one (null reads: not checked, the caller's transaction holds them). Else nothing is
   * written and this returns false. The effects come from one mutator run, one per key, so the
   * deleted and the put keys are disjoint.
   */
  protected async queueAndApply(q: Queryable, m: QueuedMutation, effects: readonly EffectOp[], reads: { key: string; data: string | null }[] | null = null): Promise<boolean> {
    try {
      const call = this.queueAndApplyCall(m, effects, reads);
      // The simple query protocol with the values inlined as literals: PGlite's extended protocol
      // (parse, describe, bind, describe, execute, sync) cost about twice as much per write.
      if (call !== undefined) await q.exec(call);
      else {
        const v = queueAndApplyValues(m, effects, reads);
        await q.query(`SELECT ${queueAndApplyFunction.name}($1, $2, $3, $4, $5::jsonb, $6, $7::jsonb, $8::json, $9::json, $10::json)`, [this.schema, m.id, ...v.slice(0, 2), v[2], m.timestamp, ...v.slice(3)]);
      }
      return true;
    } catch (e) {
      if ((e as { code?: unknown }).code === staleWriteCode) return false;
      throw e;
    }
  }

  /** The queue_and_apply call with its values as literals; undefined when one cannot be (an unsafe id or timestamp, a NUL). */
  private queueAndApplyCall(m: QueuedMutation, effects: readonly EffectOp[], reads: { key: string; data: string | null }[] | null): string | undefined {
    const values = queueAndApplyValues(m, effects, reads);
    if (!Number.isSafeInteger(m.id) || !Number.isFinite(m.timestamp) || values.some((v) => v !== null && v.includes('\0'))) return undefined;
    const [cid, name, args, origins, putsJSON, delsJSON, readsText] = values.map((v) => (v === null ? 'NULL' : sqlLiteral(v)));
    return `SELECT ${queueAndApplyFunction.name}('${this.schema}', ${m.id}, ${cid}, ${name}, ${args}, ${m.timestamp}, ${origins}, ${putsJSON}, ${delsJSON}, ${readsText})`;
  }

  // ---- the deferred mode's writes (see DeferredWrites) ------------------------------------

  /** Throws MutationRejectedError when args break a limit (checked before anything is queued). */
  checkArgs(name: string, args: unknown): void {
    const problem = valueProblem(args ?? null, this.limits.maxArgsBytes, this.limits.maxDepth);
    if (problem) throw new MutationRejectedError(`mutation "${name}" refused, nothing queued: args ${problem}`);
  }

  /** The identity and next mutation id a local write takes now (read from meta when this instance does not know them). */
  async nextWrite(): Promise<{ clientID: string; nextMutationID: number }> {
    if (this.writer) return { ...this.writer };
    const meta = await this.readMeta();
    if (!meta) throw new Error('client database is not open');
    return { clientID: meta.clientID, nextMutationID: meta.nextMutationID };
  }

  /** A visible document's JSON text (null: absent), through the DocumentCache. */
  async visibleText(key: string): Promise<string | null> {
    let text = this.documentCache.get(key);
    if (text === undefined) {
      const r = await this.db.query<{ data: string }>(`SELECT data::text AS data FROM ${this.s}.visible WHERE key = $1`, [key]);
      text = r.rows[0]?.data ?? null;
      this.documentCache.set(key, text);
    }
    return text;
  }

  /**
   * Writes deferred local writes, in order, in ONE statement (one implicit transaction: a
   * multi-statement simple query commits or rolls back whole): queue_and_apply per write, each
   * checking the documents its mutator read against what the writes before it left. If any is
   * stale (a pull committed, the identity was reset), nothing is written and they all run again,
   * in one transaction, against the stored state and meta (ids renumbered from it): a write whose
   * mutator now fails is queued without local effect, as a pending mutation a rebase finds failing
   * (the app was told it was written; the server decides). Returns the writes as stored and
   * whether they had to run again (then `changes` are what they now do).
   */
  async flushDeferred(writes: readonly DeferredWrite[]): Promise<{ mutations: Mutation[]; rerun: boolean; changes: EntityChange[] }> {
    const w = this.writer;
    const first = writes[0]!.mutation;
    // Consecutive ids under the stored identity (a rerun before may have renumbered what came before them).
    const inLine = writes.every((d, i) => d.mutation.clientID === first.clientID && d.mutation.id === first.id + i);
    if (w && inLine && w.clientID === first.clientID && w.nextMutationID === first.id && (await this.queueAndApplyBatch(writes))) {
      const last = writes[writes.length - 1]!.mutation;
      this.writer = { clientID: last.clientID, nextMutationID: last.id + 1 };
      for (const d of writes) for (const e of d.effects) this.documentCache.set(e.key, e.op === 'put' ? JSON.stringify(e.value) : null);
      return { mutations: writes.map((d) => d.mutation), rerun: false, changes: [] };
    }
    this.writer = undefined;
    this.documentCache.clear();
    return this.db.transaction(async (tx) => {
      const meta = await this.readMeta(tx);
      if (!meta) throw new Error('client database is not open');
      const mutations: Mutation[] = [];
      const changes: EntityChange[] = [];
      for (const [i, d] of writes.entries()) {
        const { name, args, timestamp, origins } = d.mutation;
        const id = meta.nextMutationID + i;
        const outcome = await runMutator(this.registry, { name, args, clientID: meta.clientID, mutationID: id }, 'client', this.reader(tx), { limits: this.limits });
        const effects = outcome.error !== undefined ? [] : outcome.effects;
        const done = await this.queued(tx, { clientID: meta.clientID, id, name, args, timestamp, origins }, effects, null);
        if (!done) throw new Error(`deferred write ${meta.clientID}/${id} found its own transaction's meta moved`);
        mutations.push(done.mutation);
        changes.push(...done.changes);
      }
      return { mutations, rerun: true, changes };
    });
  }

  /**
   * The writes as one call of queue_and_apply_batch (see flushDeferred); false: stale, nothing
   * written. A read of a key an earlier write of the batch wrote came from that write (memory):
   * only the others are checked, against the state before the batch.
   */
  protected async queueAndApplyBatch(writes: readonly DeferredWrite[]): Promise<boolean> {
    const first = writes[0]!.mutation;
    const reads = new Map<string, string | null>();
    const final = new Map<string, EntityData | null>();
    for (const d of writes) {
      for (const r of d.reads) if (!final.has(r.key) && !reads.has(r.key)) reads.set(r.key, r.data);
      for (const e of d.effects) final.set(e.key, e.op === 'put' ? e.value : null);
    }
    const muts = JSON.stringify(writes.map(({ mutation: m }) => ({ id: m.id, name: m.name, args: m.args, ts: m.timestamp, origins: m.origins?.length ? m.origins : null })));
    const puts = JSON.stringify([...final].filter(([, v]) => v !== null).map(([key, data]) => ({ key, data })));
    const dels = JSON.stringify([...final].filter(([, v]) => v === null).map(([key]) => key));
    const readsText = reads.size ? readsJSON([...reads].map(([key, data]) => ({ key, data }))) : null;
    const values = [first.clientID, muts, puts, dels, readsText];
    try {
      if (Number.isSafeInteger(first.id) && values.every((v) => v === null || !v.includes('\0'))) {
        // Literals over the simple query protocol, as queueAndApply.
        const [cid, m, p, d, r] = values.map((v) => (v === null ? 'NULL' : sqlLiteral(v)));
        await this.db.exec(`SELECT ${queueAndApplyBatchFunction.name}('${this.schema}', ${first.id}, ${writes.length}, ${cid}, ${m}, ${p}, ${d}, ${r})`);
      } else {
        await this.db.query(`SELECT ${queueAndApplyBatchFunction.name}($1, $2, $3, $4, $5::json, $6::json, $7::json, $8::json)`, [this.schema, first.id, writes.length, ...values]);
      }
      return true;
    } catch (e) {
      if ((e as { code?: unknown }).code === staleWriteCode) return false;
      throw e;
    }
  }

  /** Pending mutations in id order, those with id > afterID, at most limit of them. */
  async pendingMutations(limit = 1_000_000, q: Queryable = this.db, afterID = 0): Promise<Mutation[]> {
    // The client id comes with the rows: a separate read of meta was a second statement per call.
    // The rows come as one JSON text, parsed once: a row each, with its jsonb args decoded by the
    // driver, cost about twice the CPU (a pull's rebase reads the whole queue).
    const r = await q.query<{ client_id: string; rows: string }>(
      `SELECT m.client_id, (SELECT coalesce(json_agg(json_build_array(p.mutation_id, p.name, p.args, p.timestamp, p.origins) ORDER BY p.mutation_id), '[]')::text
                              FROM (SELECT * FROM ${this.s}.pending p WHERE p.mutation_id > $2 ORDER BY p.mutation_id LIMIT $1) p) AS rows
         FROM ${this.s}.meta m WHERE m.id = 1`,
      [limit, afterID],
    );
    const m = r.rows[0];
    if (!m) return [];
    const rows = JSON.parse(m.rows) as [number, string, JSONValue, number, Origin[] | null][];
    return rows.map(([id, name, args, timestamp, origins]) => ({
      clientID: m.client_id, id: Number(id), name, args, timestamp: Number(timestamp),
      ...(origins?.length ? { origins } : {}),
    }));
  }

  /**
   * The server lost this client's state (wiped or restored): take a new client id in the same
   * group, as Replicache does, in one transaction so a crash leaves the old or the new identity.
   * Pending mutations are kept, in order, renumbered 1..n under the new id, to be re-sent: the
   * lost database may have applied them, the new one may or may not have them (a restored backup,
   * or a push that crossed the loss). Each keeps its old identity as an origin (the latest
   * maxOriginsPerMutation), so the server applies it only if no earlier copy was. The cookie is reset;
   * the old snapshot is dropped by the first pull of the new database (a null base cookie
   * replaces the snapshot), and until then the old visible state stays as it was, so the app
   * never sees a state mixing two databases.
   */
  async resetIdentity(newClientID: string): Promise<IdentityReset> {
    const s = this.s;
    return this.db.transaction(async (tx) => {
      const meta = await this.readMeta(tx);
      if (!meta) throw new Error('client database is not open');
      const ids = (await tx.query<{ mutation_id: number }>(`SELECT mutation_id FROM ${s}.pending ORDER BY mutation_id`)).rows.map((r) => Number(r.mutation_id));
      // Two steps: the primary key is checked row by row, so renumber through negative ids. The
      // old identity joins the origins (oldest first, at most maxOriginsPerMutation kept).
      await tx.query(
        `UPDATE ${s}.pending SET mutation_id = -mutation_id,
           origins = (SELECT jsonb_agg(e ORDER BY i) FROM jsonb_array_elements(coalesce(origins, '[]'::jsonb) || jsonb_build_array(jsonb_build_object('clientID', $1::text, 'id', mutation_id))) WITH ORDINALITY AS t(e, i)
                       WHERE i > jsonb_array_length(coalesce(origins, '[]'::jsonb)) + 1 - $2::int)`,
        [meta.clientID, maxOriginsPerMutation],
      );
      await tx.query(
        `UPDATE ${s}.pending p SET mutation_id = r.n
           FROM (SELECT mutation_id, row_number() OVER (ORDER BY mutation_id DESC) AS n FROM ${s}.pending) r
          WHERE p.mutation_id = r.mutation_id`,
      );
      await tx.query(
        `UPDATE ${s}.meta SET client_id = $1, cookie = NULL, cookie_epoch = NULL, cookie_fp = NULL, next_mutation_id = $2, last_mutation_id = 0 WHERE id = 1`,
        [newClientID, ids.length + 1],
      );
      return { previousClientID: meta.clientID, clientID: newClientID, requeued: ids.map((from, i) => ({ from, to: i + 1 })) };
    });
  }

  async pendingCount(): Promise<number> {
    const r = await this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${this.s}.pending`);
    return Number(r.rows[0]!.n);
  }

  /**
   * Applies one pull response atomically: drop acknowledged pending mutations, apply the patch
   * to the snapshot, rebuild the visible state as snapshot + remaining pending replayed, and
   * advance the cookie. A response for a cookie (or client id) other than the stored one is
   * stale and ignored. A null base cookie means a full state: the old snapshot is replaced.
   *
   * Memory holds the page, the pending queue and what it writes, never the whole state: only
   * keys the patch or the pending mutations touch can change, and SQL returns just the rows
   * that did.
   *
   * A page whose cookie has a `stage` is part of a staged bootstrap: it goes to the staging
   * table and nothing visible changes; the page after the last staged one (`baseStage` is the
   * stage the request carried) applies the staged rows and itself as one full state.
   */
  async applyPull(
    baseCookie: number | null, wire: { cookie: CookieObject; lastMutationIDChanges: Record<string, number>; patch: PatchOp[] }, baseClientID?: string, baseStage?: string,
  ): Promise<PullApplyResult> {
    const resp = { ...wire, cookie: wire.cookie.order };
    const s = this.s;
    return this.db.transaction(async (tx) => {
      const read = await this.readMetaAndStage(tx);
      if (!read) throw new Error('client database is not open');
      const { meta } = read;
      if (meta.cookie !== baseCookie) return { applied: false, changes: [], droppedPending: 0 };
      if (baseClientID !== undefined && meta.clientID !== baseClientID) return { applied: false, changes: [], droppedPending: 0 };
      if (read.stage?.stage !== baseStage) return { applied: false, changes: [], droppedPending: 0 };
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
      if (wire.cookie.stage !== undefined) {
        await this.stagePage(tx, meta.clientID, wire.cookie, wire.patch, baseStage === undefined);
        return { applied: true, changes: [], droppedPending: 0 };
      }
      // The last page of a staged bootstrap: the staged rows come first, unless it starts over.
      const fromStage = baseStage !== undefined && !wire.patch.some((op) => op.op === 'clear');
      if (baseStage !== undefined) await tx.query(`UPDATE ${s}.meta SET stage_client_id = NULL, stage_cookie = NULL WHERE id = 1`);
      const pendingBefore = await this.pendingMutations(1_000_000, tx);
      const dropped = newLast > meta.lastMutationID ? await this.dropAcknowledged(tx, newLast) : 0;
      // What stays pending, without a second read when the delete took exactly the acknowledged
      // rows (copied now: a mutator may change its args in place when the rebase replays it).
      const kept = pendingBefore.filter((m) => m.id > newLast);
      const pendingAfter = pendingBefore.length - kept.length === dropped ? kept.map((m) => ({ ...m, args: structuredClone(m.args) })) : await this.pendingMutations(1_000_000, tx);
      const fp = wire.cookie.fp ?? null;
      if (resp.cookie !== baseCookie || newLast !== meta.lastMutationID || meta.epoch !== wire.cookie.epoch || meta.fp !== fp) {
        await tx.query(`UPDATE ${s}.meta SET cookie = $1, last_mutation_id = $2, cookie_epoch = $3, cookie_fp = $4 WHERE id = 1`, [resp.cookie, newLast, wire.cookie.epoch, fp]);
      }
      // From no cookie the response is a whole state: whatever snapshot is left (a reset
      // identity keeps the old database's until now) goes, even if the server sent no clear.
      const patch: PatchOp[] = baseCookie === null || baseStage !== undefined ? [{ op: 'clear' }, ...resp.patch] : resp.patch;
      if (patch.length === 0 && dropped === 0) return { applied: true, changes: [], droppedPending: 0 };

      // Rebase. The keys where the visible state differs from the old snapshot are among those
      // the pending mutations wrote when replayed on it: named by their args when all of them are
      // built-in mutators, else found by replaying them. Only the mutations left pending are
      // replayed on the new snapshot (none: the visible state is the new snapshot).
      const named = builtinKeys(this.registry, pendingBefore);
      const snapshotDoc = await this.snapshotReader(tx, named ? pendingAfter : pendingBefore);
      const oldKeys = named ?? (await this.replay(pendingBefore, snapshotDoc)).keys();
      const cleared = patch.some((op) => op.op === 'clear');
      // The remaining pending mutations replayed on the new snapshot before it is written (a
      // key the patch decides reads its value; others the old snapshot, or after a clear the
      // staged rows or nothing), so that one statement can write each patch document to both
      // the snapshot and, unless a pending mutation overlays it, the visible state.
      const known = putValues(patch);
      const decided = lastOps(patch);
      const newOverlay = await this.replay(pendingAfter, async (key) => {
        // A copy: a mutator may change what it read in place, and this document is the patch's, still to be written.
        if (decided.has(key)) return structuredClone(decided.get(key) ?? undefined);
        // The snapshot is still the old one here (the patch is written below).
        if (!cleared) return snapshotDoc(key);
        return fromStage ? (await tx.query<{ data: EntityData }>(`SELECT data FROM ${s}.staged WHERE key = $1`, [key])).rows[0]?.data : undefined;
      });
      const written = await this.applyToSnapshot(tx, patch, fromStage, fromStage ? undefined : new Set(newOverlay.keys()));
      if (baseStage !== undefined) await tx.query(`DELETE FROM ${s}.staged`);
      const candidates = cleared ? null : [...new Set([...patch.map((op) => (op as { key: string }).key), ...oldKeys])];
      // With staged rows the patch is not the whole snapshot: copy it from the snapshot.
      const changes = await this.syncVisible(tx, candidates, newOverlay, fromStage ? new Map() : known, fromStage, written);
      return { applied: true, changes, droppedPending: dropped };
    });
  }

  /** Keeps one staged page (a clear, or the first page, starts the staging over) and the cookie to continue with. */
  protected async stagePage(q: Queryable, clientID: string, cookie: CookieObject, patch: readonly PatchOp[], first: boolean): Promise<void> {
    const s = this.s;
    if (first || patch.some((op) => op.op === 'clear')) await q.query(`DELETE FROM ${s}.staged`);
    const last = new Map<string, PatchOp>();
    for (const op of patch) {
      if (op.op === 'clear') last.clear();
      else last.set(op.key, op);
    }
    const puts = [...last.values()].filter((o): o is Extract<PatchOp, { op: 'put' }> => o.op === 'put').map((o) => ({ key: o.key, data: o.value }));
    const dels = [...last.values()].filter((o) => o.op === 'del').map((o) => (o as { key: string }).key);
    if (dels.length) await q.query(`DELETE FROM ${s}.staged WHERE key = ANY($1::text[])`, [dels]);
    for (const chunk of jsonChunks(puts, this.applyChunkBytes)) {
      await q.query(
        `INSERT INTO ${s}.staged (key, data) SELECT key, data FROM json_to_recordset($1::json) AS r(key text, data jsonb)
         ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data`,
        [chunk],
      );
    }
    await q.query(
      `UPDATE ${s}.meta SET stage_client_id = $1, stage_cookie = $2::jsonb WHERE id = 1`,
      [clientID, JSON.stringify(cookie)],
    );
  }

  /**
   * Reads snapshot documents for a rebase's replay. The documents the pending mutations name in
   * their args ({type, id}, as the built-in mutators and most app mutators do) come in one
   * statement first, instead of one statement per key as each mutator asks; any other key is read
   * when asked. Each answer is a copy (a mutator may change what it read in place).
   */
  protected async snapshotReader(q: Queryable, pending: readonly Mutation[]): Promise<(key: string) => Promise<EntityData | undefined>> {
    const named = new Set<string>();
    for (const m of pending) {
      const a = m.args as { type?: unknown; id?: unknown } | null;
      if (a && typeof a === 'object' && typeof a.type === 'string' && typeof a.id === 'string') named.add(entityKey(a.type, a.id));
    }
    const known = new Map<string, EntityData | undefined>();
    if (named.size > 0) {
      for (const key of named) known.set(key, undefined);
      const r = await q.query<{ key: string; data: EntityData }>(`SELECT key, data FROM ${this.s}.snapshot WHERE key = ANY($1::text[])`, [[...named]]);
      for (const row of r.rows) known.set(row.key, row.data);
    }
    return async (key) => {
      if (known.has(key)) return structuredClone(known.get(key));
      return (await q.query<{ data: EntityData }>(`SELECT data FROM ${this.s}.snapshot WHERE key = $1`, [key])).rows[0]?.data;
    };
  }

  /** Pending mutations replayed in order over `base` (a snapshot's documents): the documents they write (null: deleted). */
  protected async replay(pending: readonly Mutation[], base: (key: string) => Promise<EntityData | undefined>): Promise<Map<string, EntityData | null>> {
    const overlay = new Map<string, EntityData | null>();
    const read = async (key: string) => (overlay.has(key) ? (overlay.get(key) ?? undefined) : base(key));
    for (const m of pending) {
      const outcome = await runMutator(this.registry, { name: m.name, args: m.args, clientID: m.clientID, mutationID: m.id }, 'client', read, { limits: this.limits });
      // A pending mutation that now fails is kept (the server decides) but has no local effect.
      for (const e of outcome.effects) {
        if (e.op === 'put') overlay.set(e.key, e.value);
        else if (e.op === 'del') overlay.set(e.key, null);
      }
    }
    return overlay;
  }

  /**
   * Makes the visible state snapshot + overlay, for the candidate keys (null: all keys), and
   * returns what changed. `known` holds the snapshot's new value of every key the patch put
   * (with a clear in the patch: the whole snapshot). Those go to the visible state straight from
   * the patch; only the other candidates are copied from the snapshot, and documents are never
   * decoded back (on a large page that was most of the cost). Each statement returns only rows
   * it changed.
   */
  protected async syncVisible(
    q: Queryable, candidates: string[] | null, overlay: Map<string, EntityData | null>, known: Map<string, EntityData> = new Map(), copyAll = false,
    written?: string[],
  ): Promise<EntityChange[]> {
    const s = this.s;
    const own = [...overlay.keys()];
    const changes: EntityChange[] = [];
    // The patch documents applyToSnapshot already wrote to the visible state (the keys that changed).
    if (written) for (const key of written) changes.push({ key, ...splitKey(key), data: known.get(key)! });
    const fromPatch = written ? [] : [...known].filter(([k]) => !overlay.has(k)).map(([key, data]) => ({ key, data }));
    for (const chunk of jsonChunks(fromPatch, this.applyChunkBytes)) {
      // The changed keys come back as one JSON array: a row per key costs more than the insert.
      const up = await q.query<{ keys: string[] }>(
        `WITH up AS (
           INSERT INTO ${s}.visible AS v (key, type, id, data)
           SELECT key, split_part(key, '/', 1), substr(key, strpos(key, '/') + 1), data FROM json_to_recordset($1::json) AS r(key text, data jsonb)
           ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data WHERE v.data IS DISTINCT FROM EXCLUDED.data
           RETURNING key)
         SELECT coalesce(json_agg(key), '[]') AS keys FROM up`,
        [chunk],
      );
      for (const key of up.rows[0]!.keys) changes.push({ key, ...splitKey(key), data: known.get(key)! });
    }
    if (copyAll) {
      // The snapshot holds more than the patch (staged rows): every key not overlaid comes from it.
      const up = await q.query<{ key: string; data: EntityData }>(
        `INSERT INTO ${s}.visible AS v (key, type, id, data)
         SELECT key, split_part(key, '/', 1), substr(key, strpos(key, '/') + 1), data FROM ${s}.snapshot WHERE key <> ALL($1::text[])
         ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data WHERE v.data IS DISTINCT FROM EXCLUDED.data
         RETURNING key, data`,
        [own],
      );
      for (const r of up.rows) changes.push({ key: r.key, ...splitKey(r.key), data: r.data });
    }
    // With a clear, the snapshot is exactly `known` (or copied above); else the candidates the patch did not put.
    const rest = candidates === null ? null : candidates.filter((k) => !known.has(k));
    if (rest !== null && rest.length > 0) {
      const up = await q.query<{ key: string; data: EntityData }>(
        `INSERT INTO ${s}.visible AS v (key, type, id, data)
         SELECT key, split_part(key, '/', 1), substr(key, strpos(key, '/') + 1), data FROM ${s}.snapshot
          WHERE key <> ALL($1::text[]) AND key = ANY($2::text[])
         ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data WHERE v.data IS DISTINCT FROM EXCLUDED.data
         RETURNING key, data`,
        [own, rest],
      );
      for (const r of up.rows) changes.push({ key: r.key, ...splitKey(r.key), data: r.data });
    }
    if (rest === null || rest.length > 0) {
      // A key the patch put is in the snapshot: only the others can have gone.
      const scope = rest === null ? '' : ' AND key = ANY($2::text[])';
      const gone = await q.query<{ key: string }>(
        `DELETE FROM ${s}.visible v WHERE key <> ALL($1::text[])${scope}
            AND NOT EXISTS (SELECT 1 FROM ${s}.snapshot n WHERE n.key = v.key)
         RETURNING key`,
        rest === null ? [own] : [own, rest],
      );
      for (const r of gone.rows) changes.push({ key: r.key, ...splitKey(r.key), data: undefined });
    }
    const puts = [...overlay].filter((e): e is [string, EntityData] => e[1] !== null).map(([key, data]) => ({ key, ...splitKey(key), data }));
    const dels = [...overlay].filter(([, d]) => d === null).map(([key]) => key);
    if (puts.length) {
      const up = await q.query<{ key: string; data: EntityData }>(
        `INSERT INTO ${s}.visible AS v (key, type, id, data)
         SELECT key, type, id, data FROM jsonb_to_recordset($1::jsonb) AS r(key text, type text, id text, data jsonb)
         ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data WHERE v.data IS DISTINCT FROM EXCLUDED.data
         RETURNING key, data`,
        [JSON.stringify(puts)],
      );
      for (const r of up.rows) changes.push({ key: r.key, ...splitKey(r.key), data: r.data });
    }
    if (dels.length) {
      const gone = await q.query<{ key: string }>(`DELETE FROM ${s}.visible WHERE key = ANY($1::text[]) RETURNING key`, [dels]);
      for (const r of gone.rows) changes.push({ key: r.key, ...splitKey(r.key), data: undefined });
    }
    return changes;
  }

  /** Removes pending mutations the server has acknowledged; returns how many. */
  protected async dropAcknowledged(tx: Queryable, upTo: number): Promise<number> {
    // A count, not a row per mutation dropped.
    const r = await tx.query<{ n: number }>(`WITH d AS (DELETE FROM ${this.s}.pending WHERE mutation_id <= $1 RETURNING 1) SELECT count(*)::int AS n FROM d`, [upTo]);
    return Number(r.rows[0]!.n);
  }

  /**
   * Applies a patch to the snapshot; `staged`: the staged rows come right after the patch's
   * clear. With `visibleExcept`, the same statement writes each put document to the visible
   * state too, unless its key is in visibleExcept (the pending overlay), and the keys whose
   * visible document changed are returned: the page's JSON is sent and parsed once.
   */
  protected async applyToSnapshot(q: Queryable, patch: readonly PatchOp[], staged = false, visibleExcept?: ReadonlySet<string>): Promise<string[] | undefined> {
    const s = this.s;
    // Collapse to the last op per key after the last clear, so set-based statements see unique keys.
    let start = 0;
    patch.forEach((op, i) => {
      if (op.op === 'clear') start = i;
    });
    if (patch[start]?.op === 'clear') await q.query(`DELETE FROM ${s}.snapshot`);
    if (staged) await q.query(`INSERT INTO ${s}.snapshot (key, data) SELECT key, data FROM ${s}.staged`);
    const last = new Map<string, PatchOp>();
    for (const op of patch.slice(start)) if (op.op !== 'clear') last.set(op.key, op);
    const puts: { key: string; data: EntityData; visible?: boolean }[] = [];
    const dels: string[] = [];
    for (const o of last.values()) {
      if (o.op === 'put') puts.push(visibleExcept ? { key: o.key, data: o.value, visible: !visibleExcept.has(o.key) } : { key: o.key, data: o.value });
      else if (o.op === 'del') dels.push(o.key);
    }
    if (dels.length) await q.query(`DELETE FROM ${s}.snapshot WHERE key = ANY($1::text[])`, [dels]);
    if (visibleExcept) {
      const keys: string[] = [];
      for (const chunk of jsonChunks(puts, this.applyChunkBytes)) {
        const r = await q.query<{ keys: string[] }>(
          `WITH r AS MATERIALIZED (SELECT key, data, visible FROM json_to_recordset($1::json) AS r(key text, data jsonb, visible boolean)),
           snap AS (INSERT INTO ${s}.snapshot (key, data) SELECT key, data FROM r ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data),
           up AS (
             INSERT INTO ${s}.visible AS v (key, type, id, data)
             SELECT key, split_part(key, '/', 1), substr(key, strpos(key, '/') + 1), data FROM r WHERE visible
             ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data WHERE v.data IS DISTINCT FROM EXCLUDED.data
             RETURNING key)
           SELECT coalesce(json_agg(key), '[]') AS keys FROM up`,
          [chunk],
        );
        for (const key of r.rows[0]!.keys) keys.push(key);
      }
      return keys;
    }
    for (const chunk of jsonChunks(puts, this.applyChunkBytes)) {
      await q.query(
        `INSERT INTO ${s}.snapshot (key, data) SELECT key, data FROM json_to_recordset($1::json) AS r(key text, data jsonb)
         ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data`,
        [chunk],
      );
    }
    return undefined;
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
    // The prefix (^@) lets PostgreSQL read the primary key's range when the key's collation is C
    // (PGlite's); `type =` keeps the answer exact whatever the collation.
    if (spec.type !== undefined) conds.push(`type = ${p(spec.type)} AND key ^@ ${p(`${spec.type}/`)}`);
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

/**
 * The keys the pending mutations can write, from their args alone, when every one is a built-in
 * mutator of this registry (upsert, delete and increment write their args' {type, id} or, failing,
 * nothing): a superset of what a replay would write, without a read or a mutator run. Undefined
 * when any other mutator is pending (what it writes may depend on what it reads).
 */
function builtinKeys(registry: MutatorRegistry, pending: readonly Mutation[]): string[] | undefined {
  const keys: string[] = [];
  for (const m of pending) {
    if (!Object.hasOwn(builtinMutators, m.name) || registry[m.name] !== builtinMutators[m.name as keyof typeof builtinMutators]) return undefined;
    const a = m.args as { type?: unknown; id?: unknown } | null;
    // Args without a string type and id fail the mutator's schema: it writes nothing.
    if (a && typeof a === 'object' && typeof a.type === 'string' && typeof a.id === 'string') keys.push(entityKey(a.type, a.id));
  }
  return keys;
}

/** The values a patch leaves in the snapshot for the keys it puts (its last op per key decides). */
function putValues(patch: readonly PatchOp[]): Map<string, EntityData> {
  const m = new Map<string, EntityData>();
  for (const op of patch) {
    if (op.op === 'put') m.set(op.key, op.value);
    else if (op.op === 'del') m.delete(op.key);
    else m.clear();
  }
  return m;
}

/** The last op per key after the patch's last clear: the document (null: deleted) it leaves. */
function lastOps(patch: readonly PatchOp[]): Map<string, EntityData | null> {
  const m = new Map<string, EntityData | null>();
  for (const op of patch) {
    if (op.op === 'put') m.set(op.key, op.value);
    else if (op.op === 'del') m.set(op.key, null);
    else m.clear();
  }
  return m;
}

export function toChange(e: EffectOp): EntityChange {
  return { key: e.key, ...splitKey(e.key), data: e.op === 'put' ? e.value : undefined };
}
