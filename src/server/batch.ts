import { ProtocolError, type EntityData, type Mutation, type MutatorOutcome, type PatchOp, type PushedMutation } from '../protocol/index.ts';
import type { Queryable } from '../db/types.ts';
import type { ServerLimits } from './limits.ts';
import { checkEffects, checkMutation } from './validate.ts';

/** What a push may still do; shared by the one-per-transaction fallback so it stops where a batch would. */
export interface PushBudget {
  mutations: number;
  effectBytes: number;
}

export interface BatchContext {
  s: string;
  limits: ServerLimits;
  now: number;
  /** Runs one checked mutation against a reader (ServerDatabase.runMutation: a seam for planted bugs). */
  run(m: Mutation, read: (key: string) => Promise<EntityData | undefined>): Promise<MutatorOutcome>;
}

export interface BatchResult {
  /** Mutations applied or recorded as failed by this push. */
  processed: number;
  /** Mutations the server already had. */
  skipped: number;
  /** The global version after the push (0 when nothing was written). */
  version: number;
  lastMutationIDs: Record<string, number>;
  failed: { clientID: string; id: number; error: string }[];
}

interface LogRow {
  ord: number;
  client_id: string;
  mutation_id: number;
  name: string;
  args: unknown;
  effects: PatchOp[];
  error: string | null;
  bytes: number;
}

/**
 * One push in one transaction (the caller's). Lock order, the same for every push so that
 * PostgreSQL cannot deadlock: the push's client rows (sorted), then the version row, then entity
 * rows. Ownership and id order are checked for the whole batch before anything is written.
 * Mutators run in order against an in-memory overlay of the entities (reads cached, earlier
 * mutations of the batch visible to later ones); the version row is locked before the first
 * read, so no read can see a state another push is about to change. Then effects, log rows (each
 * with its own version) and last mutation ids go out in one set-based statement.
 * `forced` records the mutation with that clientID/id as failed (the class-22 fallback).
 */
export async function pushBatch(
  tx: Queryable, ctx: BatchContext, clientGroupID: string, mutations: readonly PushedMutation[], budget: PushBudget,
  forced?: { clientID: string; id: number; error: string },
): Promise<BatchResult> {
  const { s, limits } = ctx;
  const ids = [...new Set(mutations.map((m) => m.clientID))].sort();
  const locked = await tx.query<{ client_id: string; client_group_id: string; last_mutation_id: number }>(
    `INSERT INTO ${s}.clients (client_id, client_group_id, last_mutation_id, last_modified_version, updated_at)
     SELECT id, $2, 0, 0, $3 FROM unnest($1::text[]) AS t(id) ORDER BY id
     ON CONFLICT (client_id) DO UPDATE SET client_id = EXCLUDED.client_id
     RETURNING client_id, client_group_id, last_mutation_id`,
    [ids, clientGroupID, ctx.now],
  );
  const last = new Map<string, number>();
  for (const row of locked.rows) {
    if (row.client_group_id !== clientGroupID) {
      throw new ProtocolError(403, { error: 'BadRequest', message: `clientID ${row.client_id} belongs to another client group` });
    }
    last.set(row.client_id, Number(row.last_mutation_id));
  }
  const result: BatchResult = { processed: 0, skipped: 0, version: 0, lastMutationIDs: Object.fromEntries(last), failed: [] };

  // Whole-batch order check: the first new mutation of each client must follow its last id.
  // A client ahead of this database (unknown with id > 1, or a gap after a restore) starts over.
  const todo: PushedMutation[] = [];
  const expected = new Map(last);
  for (const m of mutations) {
    const lm = expected.get(m.clientID)!;
    if (m.id <= last.get(m.clientID)!) {
      result.skipped++;
      continue;
    }
    if (m.id !== lm + 1) throw new ProtocolError(200, { error: 'ClientStateNotFound' });
    expected.set(m.clientID, m.id);
    todo.push(m);
  }
  if (todo.length === 0) return result;

  let versionLocked = false;
  const overlay = new Map<string, EntityData | null>();
  const read = async (key: string): Promise<EntityData | undefined> => {
    if (overlay.has(key)) return overlay.get(key) ?? undefined;
    if (!versionLocked) {
      await tx.query(`SELECT version FROM ${s}.meta WHERE id = 1 FOR UPDATE`);
      versionLocked = true;
    }
    const r = await tx.query<{ data: EntityData }>(`SELECT data FROM ${s}.entities WHERE key = $1 AND NOT deleted`, [key]);
    const data = r.rows[0]?.data ?? null;
    overlay.set(key, data);
    return data ?? undefined;
  };

  const logRows: LogRow[] = [];
  const written = new Map<string, number>(); // key -> ord of its last write in this push
  const advanced = new Map<string, number>(); // client -> ord of its last mutation in this push
  for (const raw of todo) {
    if (budget.mutations <= 0) break;
    const ord = logRows.length + 1;
    const record = (m: Mutation, effects: PatchOp[], error: string | null, bytes: number) => {
      logRows.push({ ord, client_id: m.clientID, mutation_id: m.id, name: m.name, args: m.args, effects, error, bytes });
      if (error !== null) result.failed.push({ clientID: m.clientID, id: m.id, error });
      result.lastMutationIDs[m.clientID] = m.id;
      advanced.set(m.clientID, ord);
      budget.mutations--;
    };
    // A failed mutation's args are stored as null when replaying them would not give the recorded failure.
    const fail = (m: Mutation, error: string) => record({ ...m, args: null }, [], error, 0);
    const checked = checkMutation(raw, limits);
    if (forced && forced.clientID === raw.clientID && forced.id === raw.id) {
      fail(checked.mutation, forced.error);
      continue;
    }
    if (!checked.ok) {
      fail(checked.mutation, checked.error);
      continue;
    }
    const m = checked.mutation;
    const outcome = await ctx.run(m, read);
    if (outcome.error !== undefined) {
      record(m, [], outcome.error, 0);
      continue;
    }
    const eff = checkEffects(outcome.effects, limits);
    if (eff.error) {
      fail(m, eff.error);
      continue;
    }
    if (eff.bytes > budget.effectBytes) {
      // Past the budget: stop at this mutation boundary, unless nothing was done yet (then it
      // could never pass: record it as failed, or its client would resend it forever).
      if (logRows.length > 0) break;
      fail(m, `effects of ${eff.bytes} bytes are over the per-push limit of ${limits.maxEffectBytesPerPush} bytes (maxEffectBytesPerPush)`);
      continue;
    }
    budget.effectBytes -= eff.bytes;
    for (const e of outcome.effects) {
      const key = (e as { key: string }).key;
      overlay.set(key, e.op === 'put' ? e.value : null);
      written.set(key, ord);
    }
    record(m, outcome.effects, null, eff.bytes);
  }

  if (logRows.length === 0) return result;
  const entities = [...written].map(([key, ord]) => ({ key, value: overlay.get(key) ?? null, ord }));
  const clients = [...advanced].map(([client_id, ord]) => ({ client_id, lmid: result.lastMutationIDs[client_id], ord }));
  const w = await tx.query<{ base: number }>(
    `WITH v AS (
       UPDATE ${s}.meta SET version = version + $1 WHERE id = 1 RETURNING version - $1 AS base
     ), lg AS (
       INSERT INTO ${s}.replication_log (version, client_id, mutation_id, name, args, effects, error, created_at, commit_version, bytes)
       SELECT v.base + r.ord, r.client_id, r.mutation_id, r.name, coalesce(r.args, 'null'::jsonb), r.effects, r.error, $5, v.base + $1, r.bytes
         FROM jsonb_to_recordset($2::jsonb) AS r(ord int, client_id text, mutation_id bigint, name text, args jsonb, effects jsonb, error text, bytes int), v
     ), ent AS (
       INSERT INTO ${s}.entities (key, type, id, data, version, deleted, bytes)
       SELECT e.key, split_part(e.key, '/', 1), substr(e.key, strpos(e.key, '/') + 1), e.value, v.base + e.ord, e.value IS NULL,
              coalesce(octet_length(e.value::text), 0)
         FROM jsonb_to_recordset($3::jsonb) AS e(key text, value jsonb, ord int), v
       ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, version = EXCLUDED.version, deleted = EXCLUDED.deleted, bytes = EXCLUDED.bytes
     )
     UPDATE ${s}.clients c SET last_mutation_id = x.lmid, last_modified_version = v.base + x.ord, updated_at = $5
       FROM jsonb_to_recordset($4::jsonb) AS x(client_id text, lmid bigint, ord int), v
      WHERE c.client_id = x.client_id
     RETURNING v.base`,
    [logRows.length, JSON.stringify(logRows), JSON.stringify(entities), JSON.stringify(clients), ctx.now],
  );
  result.processed = logRows.length;
  result.version = Number(w.rows[0]!.base) + logRows.length;
  return result;
}
