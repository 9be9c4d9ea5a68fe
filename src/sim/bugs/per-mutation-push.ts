import { ProtocolError, runMutator, type EntityData, type Mutation, type MutatorOutcome, type MutatorRegistry, type Origin, type PatchOp, type PushEnvelope } from '../../protocol/index.ts';
import type { Queryable } from '../../db/types.ts';
import { duplicateError } from '../../server/batch.ts';
import { ServerDatabase } from '../../server/server-database.ts';
import type { PushOutcome } from '../../server/types.ts';

export type MutationResult =
  | { kind: 'skipped'; lastMutationID: number }
  | { kind: 'applied'; version: number; effects: PatchOp[]; error?: string };

/*
 * The original push, one mutation per transaction, in steps: the building blocks of the planted-bug
 * variants, which recompose them wrongly; processMutation is the right composition and
 * PerMutationServer the push built on it. Production never runs any of this (its push is pushBatch,
 * server/batch.ts: one transaction per push), so it lives here, with the bugs, not in src/server.
 */

/**
 * Registers the client on first sight and locks its row (DO UPDATE takes the row lock and returns
 * it); with origins, their clients' rows too, all in client id order (the batch path's lock order).
 * Returns the pushing client's last mutation id.
 */
export async function lockClient(tx: Queryable, s: string, clientGroupID: string, m: Mutation, now: number): Promise<number> {
  const ids = [...new Set([m.clientID, ...(m.origins ?? []).map((o) => o.clientID)])].sort();
  const { rows } = await tx.query<{ client_id: string; client_group_id: string; last_mutation_id: number }>(
    `INSERT INTO ${s}.clients (client_id, client_group_id, last_mutation_id, last_modified_version, updated_at)
     SELECT id, $2, 0, 0, $3 FROM unnest($1::text[]) AS t(id) ORDER BY id
     ON CONFLICT (client_id) DO UPDATE SET client_id = EXCLUDED.client_id
     RETURNING client_id, client_group_id, last_mutation_id`,
    [ids, clientGroupID, now],
  );
  const client = rows.find((r) => r.client_id === m.clientID)!;
  if (client.client_group_id !== clientGroupID) {
    throw new ProtocolError(403, { error: 'BadRequest', message: `clientID ${m.clientID} belongs to another client group` });
  }
  return Number(client.last_mutation_id);
}

/** 'skip' for a mutation the server already has; a gap means the client is ahead of this database (ClientStateNotFound). */
export function checkOrder(m: Mutation, last: number): 'skip' | 'apply' {
  if (m.id <= last) return 'skip';
  if (m.id > last + 1) throw new ProtocolError(200, { error: 'ClientStateNotFound' });
  return 'apply';
}

/** Takes the next global version; the row lock it holds serialises all pushes until commit. */
export async function nextVersion(tx: Queryable, s: string): Promise<number> {
  const v = await tx.query<{ version: number }>(`UPDATE ${s}.meta SET version = version + 1 WHERE id = 1 RETURNING version`);
  return Number(v.rows[0]!.version);
}

export function runServerMutator(tx: Queryable, s: string, registry: MutatorRegistry, m: Mutation): Promise<MutatorOutcome> {
  return runMutator(registry, { name: m.name, args: m.args, clientID: m.clientID, mutationID: m.id }, 'server', async (key) => {
    const r = await tx.query<{ data: EntityData }>(`SELECT data FROM ${s}.entities WHERE key = $1 AND NOT deleted`, [key]);
    return r.rows[0]?.data;
  });
}

/**
 * Effects, log entry and (unless advanceClient is false) the client's last mutation id, in one
 * statement: fewer round trips, one atomic step.
 */
export async function commitMutation(
  tx: Queryable, s: string, m: Mutation, version: number, outcome: MutatorOutcome, now: number, advanceClient = true,
): Promise<void> {
  await tx.query(
    `WITH eff AS (
       SELECT e.key, e.value FROM jsonb_to_recordset($1::jsonb) AS e(key text, value jsonb)
     ), ent AS (
       INSERT INTO ${s}.entities (key, type, id, data, version, deleted)
       SELECT key, split_part(key, '/', 1), substr(key, strpos(key, '/') + 1), value, $2, value IS NULL FROM eff
       ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, version = EXCLUDED.version, deleted = EXCLUDED.deleted
     ), log AS (
       INSERT INTO ${s}.replication_log (version, client_id, mutation_id, name, args, effects, error, created_at)
       VALUES ($2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9)
     )
     UPDATE ${s}.clients SET last_mutation_id = $4, last_modified_version = $2, updated_at = $9 WHERE client_id = $3 AND $10`,
    [
      JSON.stringify(outcome.effects.map((e) => ({ key: (e as { key: string }).key, value: e.op === 'put' ? e.value : null }))),
      version,
      m.clientID,
      m.id,
      m.name,
      JSON.stringify(m.args ?? null),
      JSON.stringify(outcome.effects),
      outcome.error ?? null,
      now,
      advanceClient,
    ],
  );
}

/** Advances a client's last mutation id (on its own, only planted bugs need this). */
export async function advanceClient(q: Queryable, s: string, m: Mutation, version: number, now: number): Promise<void> {
  await q.query(`UPDATE ${s}.clients SET last_mutation_id = $2, last_modified_version = $3, updated_at = $4 WHERE client_id = $1`, [m.clientID, m.id, version, now]);
}

/** The first of the mutation's origins this database already processed (their rows locked by lockClient), if any. */
export async function processedOrigin(tx: Queryable, s: string, m: Mutation): Promise<Origin | undefined> {
  if (!m.origins?.length) return undefined;
  const r = await tx.query<{ client_id: string; last_mutation_id: number }>(
    `SELECT client_id, last_mutation_id FROM ${s}.clients WHERE client_id = ANY($1::text[])`,
    [m.origins.map((o) => o.clientID)],
  );
  const last = new Map(r.rows.map((row) => [row.client_id, Number(row.last_mutation_id)]));
  return m.origins.find((o) => (last.get(o.clientID) ?? 0) >= o.id);
}

/** Raises each origin's client to the origin's id: a late push of an earlier copy is then already known. */
export async function fenceOrigins(tx: Queryable, s: string, m: Mutation, version: number, now: number): Promise<void> {
  if (!m.origins?.length) return;
  await tx.query(
    `UPDATE ${s}.clients c SET last_mutation_id = o.id, last_modified_version = $2, updated_at = $3
       FROM json_to_recordset($1::json) AS o("clientID" text, id bigint)
      WHERE c.client_id = o."clientID" AND c.last_mutation_id < o.id`,
    [JSON.stringify(m.origins), version, now],
  );
}

/**
 * One mutation, inside the caller's transaction. Lock order is always client rows (sorted), then
 * the global version row, so concurrent pushes on PostgreSQL serialise without deadlocks, and
 * every read the mutator makes happens after the version lock: no lost update under READ
 * COMMITTED. A re-queued copy of a mutation already processed (see origins in protocol/push.ts)
 * is recorded as a duplicate, without effects.
 */
export async function processMutation(
  tx: Queryable, s: string, registry: MutatorRegistry, clientGroupID: string, m: Mutation, now: number,
): Promise<MutationResult> {
  const last = await lockClient(tx, s, clientGroupID, m, now);
  if (checkOrder(m, last) === 'skip') return { kind: 'skipped', lastMutationID: last };
  const version = await nextVersion(tx, s);
  const duplicate = await processedOrigin(tx, s, m);
  const outcome: MutatorOutcome = duplicate ? { effects: [], error: duplicateError(duplicate) } : await runServerMutator(tx, s, registry, m);
  // A duplicate's args are stored as null, like a failure's: the log replays to no effects.
  await commitMutation(tx, s, duplicate ? { ...m, args: null } : m, version, outcome, now);
  await fenceOrigins(tx, s, m, version, now);
  return { kind: 'applied', version, effects: outcome.effects, error: outcome.error };
}

/**
 * The extension point for planted bugs whose flaw lives in one mutation's step: push runs the
 * original one-transaction-per-mutation path, each mutation through applyMutation (which a
 * variant overrides). Right as it stands (origins.test.ts runs it against the batch path's cases).
 */
export class PerMutationServer extends ServerDatabase {
  protected override async pushEnvelope(req: PushEnvelope): Promise<PushOutcome> {
    let processed = 0;
    let skipped = 0;
    let version = 0;
    for (const m of req.mutations as Mutation[]) {
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
}
