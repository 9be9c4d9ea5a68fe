import { ProtocolError, runMutator, type EntityData, type Mutation, type MutatorOutcome, type MutatorRegistry, type PatchOp } from '../protocol/index.ts';
import type { Queryable } from '../db/types.ts';

export type MutationResult =
  | { kind: 'skipped'; lastMutationID: number }
  | { kind: 'applied'; version: number; effects: PatchOp[]; error?: string };

/*
 * One mutation per transaction, in steps: the building blocks of the simulator's planted-bug
 * variants (src/sim/bugs), which recompose them wrongly; processMutation is the right
 * composition. The real push is pushBatch (batch.ts): one transaction per push.
 */

/** Registers the client on first sight and locks its row (DO UPDATE takes the row lock and returns it). */
export async function lockClient(tx: Queryable, s: string, clientGroupID: string, m: Mutation, now: number): Promise<number> {
  const { rows } = await tx.query<{ client_group_id: string; last_mutation_id: number }>(
    `INSERT INTO ${s}.clients (client_id, client_group_id, last_mutation_id, last_modified_version, updated_at)
     VALUES ($1, $2, 0, 0, $3)
     ON CONFLICT (client_id) DO UPDATE SET client_id = EXCLUDED.client_id
     RETURNING client_group_id, last_mutation_id`,
    [m.clientID, clientGroupID, now],
  );
  const client = rows[0]!;
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

/**
 * One mutation, inside the caller's transaction. Lock order is always client row, then the
 * global version row, so concurrent pushes on PostgreSQL serialise without deadlocks, and every
 * read the mutator makes happens after the version lock: no lost update under READ COMMITTED.
 */
export async function processMutation(
  tx: Queryable, s: string, registry: MutatorRegistry, clientGroupID: string, m: Mutation, now: number,
): Promise<MutationResult> {
  const last = await lockClient(tx, s, clientGroupID, m, now);
  if (checkOrder(m, last) === 'skip') return { kind: 'skipped', lastMutationID: last };
  const version = await nextVersion(tx, s);
  const outcome = await runServerMutator(tx, s, registry, m);
  await commitMutation(tx, s, m, version, outcome, now);
  return { kind: 'applied', version, effects: outcome.effects, error: outcome.error };
}
