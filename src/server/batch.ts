import { encodedBytes, ProtocolError, type EntityData, type Mutation, type MutatorOutcome, type Origin, type PatchOp, type PushedMutation } from '../protocol/index.ts';
import type { Queryable } from '../db/types.ts';
import type { ServerLimits } from './limits.ts';
import { checkEffects, checkMutation } from './validate.ts';
import { elidedPut, type LogEffect } from './log-effects.ts';

/** What a push may still do; shared by the one-per-transaction fallback so it stops where a batch would. */
export interface PushBudget {
  mutations: number;
  effectBytes: number;
  /** Earlier mutations of this push already used some of it (pushOneByOne's later batches of one). */
  spent?: boolean;
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
  /** Mutations of this push recorded as duplicates: an earlier identity of theirs (an origin) was already applied. */
  duplicates?: number;
}

/**
 * The error a duplicate's log row records: the mutation is a re-queued copy of one this database
 * already processed (under the origin named), so it has no effects. Not a failure: it is not in
 * the push's `failed` list.
 */
export function duplicateError(o: Origin): string {
  return `duplicate: already processed as ${o.clientID}#${o.id}`;
}

/** The client ids a push's origins name, for the lock set. */
export function originClientIDs(mutations: readonly { origins?: readonly Origin[] }[]): string[] {
  return mutations.flatMap((m) => (m.origins ?? []).map((o) => o.clientID));
}

interface LogRow {
  ord: number;
  client_id: string;
  mutation_id: number;
  name: string;
  args: unknown;
  effects: LogEffect[];
  error: string | null;
  bytes: number;
}

type ClientRow = { client_id: string; client_group_id: string; last_mutation_id: number };

/**
 * Locks the push's client rows in client id order. Known clients (the common case) are locked
 * by SELECT ... FOR UPDATE, which writes no row version; if any is new, all are registered and
 * locked by one INSERT ... ON CONFLICT in the same order (DO UPDATE takes the row lock).
 */
async function lockClients(tx: Queryable, s: string, clientGroupID: string, ids: string[], now: number): Promise<ClientRow[]> {
  // One client (most pushes) by equality: PGlite runs it at about half the cost of = ANY(array).
  const known = ids.length === 1
    ? await tx.query<ClientRow>(`SELECT client_id, client_group_id, last_mutation_id FROM ${s}.clients WHERE client_id = $1 FOR UPDATE`, [ids[0]])
    : await tx.query<ClientRow>(
      `SELECT client_id, client_group_id, last_mutation_id FROM ${s}.clients WHERE client_id = ANY($1::text[]) ORDER BY client_id FOR UPDATE`,
      [ids],
    );
  if (known.rows.length === ids.length) return known.rows;
  const all = await tx.query<ClientRow>(
    `INSERT INTO ${s}.clients (client_id, client_group_id, last_mutation_id, last_modified_version, updated_at)
     SELECT id, $2, 0, 0, $3 FROM unnest($1::text[]) AS t(id) ORDER BY id
     ON CONFLICT (client_id) DO UPDATE SET client_id = EXCLUDED.client_id
     RETURNING client_id, client_group_id, last_mutation_id`,
    [ids, clientGroupID, now],
  );
  return all.rows;
}

interface Plan {
  logRows: LogRow[];
  entities: { key: string; value: EntityData | null; ord: number }[];
  /**
   * Every client of the push and every origin client: the last id the plan assumed (prev) and,
   * if it advanced (a mutation of its own, or a fence), its new one.
   */
  clients: { client_id: string; prev: number; lmid: number | null; ord: number | null }[];
  lastMutationIDs: Record<string, number>;
  failed: BatchResult['failed'];
  duplicates: number;
}

/**
 * Runs the push's new mutations in order against an overlay of the entities (reads cached,
 * earlier mutations of the batch visible to later ones), checking each, within the budget.
 * Pure but for `read`: no writes; the caller writes the plan with one call.
 * `last` holds the last mutation id of every locked client: the push's own (`pushers`) and the
 * clients its mutations' origins name. A mutation with an origin this database already processed
 * (its client's last id is at or past the origin's id) is a duplicate: recorded, no effects.
 * Any other processed mutation fences its origins (raises their clients' last ids to the origin
 * ids), so a late push of an earlier copy is skipped as already known.
 */
async function plan(
  ctx: BatchContext, todo: readonly PushedMutation[], last: ReadonlyMap<string, number>, budget: PushBudget,
  read: (key: string) => Promise<EntityData | null | undefined>, forced?: { clientID: string; id: number; error: string },
  pushers: ReadonlySet<string> = new Set(last.keys()),
): Promise<Plan> {
  const { limits } = ctx;
  const overlay = new Map<string, EntityData | null>();
  const cachedRead = async (key: string): Promise<EntityData | undefined> => {
    if (!overlay.has(key)) overlay.set(key, (await read(key)) ?? null);
    return overlay.get(key) ?? undefined;
  };
  const p: Plan = { logRows: [], entities: [], clients: [], lastMutationIDs: {}, failed: [], duplicates: 0 };
  const lmid = new Map(last); // client -> last mutation id as of the plan so far
  const written = new Map<string, number>(); // key -> ord of its last write in this push
  const advanced = new Map<string, number>(); // client -> ord of its last mutation (or fence) in this push
  for (const raw of todo) {
    if (budget.mutations <= 0) break;
    const ord = p.logRows.length + 1;
    const record = (m: Mutation, effects: PatchOp[], error: string | null, bytes: number, duplicate = false) => {
      p.logRows.push({ ord, client_id: m.clientID, mutation_id: m.id, name: m.name, args: m.args, effects, error, bytes });
      if (error !== null && !duplicate) p.failed.push({ clientID: m.clientID, id: m.id, error });
      lmid.set(m.clientID, m.id);
      advanced.set(m.clientID, ord);
      // Processed (applied, failed or a duplicate): no earlier copy may be applied after this.
      for (const o of raw.origins ?? []) {
        if ((lmid.get(o.clientID) ?? 0) >= o.id) continue;
        lmid.set(o.clientID, o.id);
        advanced.set(o.clientID, ord);
      }
      budget.mutations--;
    };
    // A failed mutation's args are stored as null when replaying them would not give the recorded failure.
    const fail = (m: Mutation, error: string) => record({ ...m, args: null }, [], error, 0);
    const checked = checkMutation(raw, limits);
    const applied = raw.origins?.find((o) => (lmid.get(o.clientID) ?? 0) >= o.id);
    if (applied) {
      p.duplicates++;
      // Args stored as null, like a failure's: the log replays to no effects (the copy applied holds them).
      record({ ...checked.mutation, args: null }, [], duplicateError(applied), 0, true);
      continue;
    }
    if (forced && forced.clientID === raw.clientID && forced.id === raw.id) {
      fail(checked.mutation, forced.error);
      continue;
    }
    if (!checked.ok) {
      fail(checked.mutation, checked.error);
      continue;
    }
    const m = checked.mutation;
    const outcome = await ctx.run(m, cachedRead);
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
      if (p.logRows.length > 0 || budget.spent) break;
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
  // Within one commit the log keeps a key's value only on its last write: pull pages end at
  // commit boundaries, where the fold of the log still equals the entities, and 1,000
  // increments of one document in one push log it once instead of 1,000 times.
  for (const row of p.logRows) {
    if (!row.effects.some((e) => e.op === 'put' && written.get(e.key) !== row.ord)) continue;
    row.effects = row.effects.map((e) => (e.op === 'put' && written.get(e.key) !== row.ord ? elidedPut(e.key) : e));
    row.bytes = encodedBytes(row.effects);
  }
  p.entities = [...written].map(([key, ord]) => ({ key, value: overlay.get(key) ?? null, ord }));
  p.clients = [...last].map(([client_id, prev]) => {
    const ord = advanced.get(client_id);
    return { client_id, prev, lmid: ord === undefined ? null : lmid.get(client_id)!, ord: ord ?? null };
  });
  // Only the push's own clients: an origin client's last id is not the pusher's to learn.
  for (const id of pushers) p.lastMutationIDs[id] = lmid.get(id)!;
  return p;
}

const planParams = (p: Plan, now: number) => [p.logRows.length, JSON.stringify(p.logRows), JSON.stringify(p.entities), JSON.stringify(p.clients), now];

/** Only for a plan that wrote log rows (both callers return earlier for an empty one). */
function resultOf(p: Plan, base: number, skipped: number): BatchResult {
  return {
    processed: p.logRows.length, skipped, version: base + p.logRows.length, lastMutationIDs: p.lastMutationIDs, failed: p.failed,
    ...(p.duplicates ? { duplicates: p.duplicates } : {}),
  };
}

/**
 * The common case without an explicit transaction: when each client's first mutation follows
 * the id it is assumed to have, plan on documents read beforehand (each with the version that
 * wrote it; none for upsert and delete), and let push_fast (schema.ts) check both assumptions
 * under the client row locks and the version lock, then write, or write nothing. Undefined:
 * take the locked path, which also takes every push with origins (rare: re-sent after a reset
 * or a move; they need the origin clients' rows locked and read). A single increment is two
 * statements instead of six.
 */
export async function tryFastPush(
  q: Queryable, ctx: BatchContext, clientGroupID: string, mutations: readonly PushedMutation[], budget: PushBudget, assumed: ReadonlyMap<string, number>,
): Promise<BatchResult | undefined> {
  const last = new Map<string, number>();
  for (const m of mutations) {
    if (m.origins?.length) return undefined;
    if (last.has(m.clientID)) continue; // later ids of a client are consecutive (checked by the handler)
    const prev = assumed.get(m.clientID) ?? m.id - 1;
    // Already known, or a gap: the locked path skips it or answers ClientStateNotFound.
    if (m.id !== prev + 1) return undefined;
    last.set(m.clientID, prev);
  }
  const attempt = { ...budget };
  const reads: { key: string; version: number }[] = [];
  const preRead = async (key: string) => {
    const r = await q.query<{ data: EntityData | null; version: number; deleted: boolean }>(`SELECT data, version, deleted FROM ${ctx.s}.entities WHERE key = $1`, [key]);
    const row = r.rows[0];
    reads.push({ key, version: row ? Number(row.version) : 0 });
    return row && !row.deleted ? row.data : undefined;
  };
  const p = await plan(ctx, mutations, last, attempt, preRead);
  if (p.logRows.length === 0) return undefined;
  const base = p.logRows.length === 1 && reads.length === 0 && p.entities.length <= 1 && p.clients.length === 1
    ? await pushOne(q, ctx, clientGroupID, p)
    : Number((await q.query<{ base: number }>(`SELECT ${ctx.s}.push_fast($1, $2, $3, $4, $5, $6, $7) AS base`, [clientGroupID, ...planParams(p, ctx.now), reads.length ? JSON.stringify(reads) : null])).rows[0]!.base);
  if (base < 0) return undefined;
  Object.assign(budget, attempt);
  return resultOf(p, base, 0);
}

/**
 * A plan of one mutation that read nothing, written by push_one (schema.ts): the same checks and
 * writes as push_fast with scalar parameters. Returns the version before it, or -1 (nothing written).
 */
async function pushOne(q: Queryable, ctx: BatchContext, clientGroupID: string, p: Plan): Promise<number> {
  const row = p.logRows[0]!;
  const client = p.clients[0]!;
  const ent = p.entities[0];
  const r = await q.query<{ v: number }>(`SELECT ${ctx.s}.push_one($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) AS v`, [
    clientGroupID, client.client_id, client.prev, row.mutation_id, row.name, JSON.stringify(row.args ?? null), JSON.stringify(row.effects), row.error,
    ctx.now, row.bytes, ent?.key ?? null, ent && ent.value !== null ? JSON.stringify(ent.value) : null,
  ]);
  const v = Number(r.rows[0]!.v);
  return v < 0 ? -1 : v - 1;
}

/**
 * One push in one transaction (the caller's). Lock order, the same for every push so that
 * PostgreSQL cannot deadlock: the client rows of the push and of its mutations' origins (sorted
 * together), then the version row, then entity rows. Ownership (of the push's own clients) and
 * id order are checked for the whole batch before anything is written.
 * Origins (see plan) may name clients of other groups: a client that lost its group's token
 * moved to a new group and re-sends its mutations there. A push can only make its own mutation
 * a duplicate; fencing another group's client (so that its mutations up to the origin id count
 * as processed) needs that client's id, a random id that no pull or push answer gives to another
 * group. An origin client this database does not know is registered in the pusher's group (a
 * late push of the earlier copy from another group is then refused with 403, never applied).
 * Mutators run in order against an in-memory overlay of the entities (see plan); the version
 * row is locked before the first read, so no read can see a state another push is about to
 * change. Then effects, log rows (each with its own version) and last mutation ids go out in
 * one call (write_push in schema.ts).
 * `forced` records the mutation with that clientID/id as failed (the class-22 fallback).
 */
export async function pushBatch(
  tx: Queryable, ctx: BatchContext, clientGroupID: string, mutations: readonly PushedMutation[], budget: PushBudget,
  forced?: { clientID: string; id: number; error: string },
): Promise<BatchResult> {
  const { s } = ctx;
  const pushers = new Set(mutations.map((m) => m.clientID));
  const ids = [...new Set([...pushers, ...originClientIDs(mutations)])].sort();
  const locked = await lockClients(tx, s, clientGroupID, ids, ctx.now);
  const last = new Map<string, number>();
  const all = new Map<string, number>();
  for (const row of locked) {
    all.set(row.client_id, Number(row.last_mutation_id));
    if (!pushers.has(row.client_id)) continue;
    if (row.client_group_id !== clientGroupID) {
      throw new ProtocolError(403, { error: 'BadRequest', message: `clientID ${row.client_id} belongs to another client group` });
    }
    last.set(row.client_id, Number(row.last_mutation_id));
  }

  // Whole-batch order check: the first new mutation of each client must follow its last id.
  // A client ahead of this database (unknown with id > 1, or a gap after a restore) starts over.
  const todo: PushedMutation[] = [];
  const expected = new Map(last);
  let skipped = 0;
  for (const m of mutations) {
    if (m.id <= last.get(m.clientID)!) {
      skipped++;
      continue;
    }
    if (m.id !== expected.get(m.clientID)! + 1) throw new ProtocolError(200, { error: 'ClientStateNotFound' });
    expected.set(m.clientID, m.id);
    todo.push(m);
  }
  const empty: BatchResult = { processed: 0, skipped, version: 0, lastMutationIDs: Object.fromEntries(last), failed: [] };
  if (todo.length === 0) return empty;

  let versionLocked = false;
  const read = async (key: string) => {
    if (!versionLocked) {
      await tx.query(`SELECT version FROM ${s}.meta WHERE id = 1 FOR UPDATE`);
      versionLocked = true;
    }
    const r = await tx.query<{ data: EntityData }>(`SELECT data FROM ${s}.entities WHERE key = $1 AND NOT deleted`, [key]);
    return r.rows[0]?.data;
  };
  const p = await plan(ctx, todo, all, budget, read, forced, pushers);
  if (p.logRows.length === 0) return empty;
  const w = await tx.query<{ base: number }>(`SELECT ${s}.write_push($1, $2, $3, $4, $5) AS base`, planParams(p, ctx.now));
  return resultOf(p, Number(w.rows[0]!.base), skipped);
}
