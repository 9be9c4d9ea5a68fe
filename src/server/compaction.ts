import { z } from 'zod';
import type { Db, Queryable } from '../db/types.ts';
import { fingerprint } from './fingerprint.ts';

/**
 * How much of the replication log compaction keeps. A row is dropped only when every given
 * rule lets it go: with both, the log keeps the last `keepVersions` versions and every row
 * younger than `keepMs`. With neither given, the default: the last 10,000 versions.
 */
export interface Retention {
  /** Keep at least the last this many versions. */
  keepVersions?: number;
  /** Keep every row younger than this (by its created_at, from the server's Clock). */
  keepMs?: number;
  /** Never move the horizon past this version (the simulator archives what it read first). */
  upTo?: number;
}

export const defaultRetention = { keepVersions: 10_000 } as const satisfies Retention;

const retentionSchema = z.strictObject({
  keepVersions: z.number().int().nonnegative().optional(),
  keepMs: z.number().int().nonnegative().optional(),
  upTo: z.number().int().nonnegative().optional(),
});

/** A retention with its default applied; a bad value is a clear error. */
export function resolveRetention(r: Retention | undefined): Retention {
  const parsed = retentionSchema.safeParse(r ?? {});
  if (!parsed.success) throw new Error(`invalid compaction retention: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  const out = parsed.data;
  return out.keepVersions === undefined && out.keepMs === undefined ? { ...defaultRetention } : out;
}

export interface CompactionResult {
  /** The horizon after this call: log rows at or below it are folded into the base. */
  horizon: number;
  /** Log rows this call removed. */
  droppedRows: number;
}

/**
 * Folds the log rows at or below a new horizon into log_base (per key, the last value written,
 * deleted keys removed) and deletes them, in one transaction. The horizon is a commit boundary,
 * so no dropped row's value was elided in favour of a kept one, and every pull page above the
 * horizon stays exact. Concurrent compactions queue on an advisory lock; pushes are not blocked
 * until the horizon is written at the very end.
 */
export async function compactLog(db: Db, s: string, schema: string, retention: Retention, now: number): Promise<CompactionResult> {
  return db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`lockstep-compact:${schema}`]);
    const m = (await tx.query<{ version: number; horizon: number }>(`SELECT version, horizon FROM ${s}.meta WHERE id = 1`)).rows[0]!;
    const version = Number(m.version);
    const old = Number(m.horizon);
    let target = version;
    if (retention.upTo !== undefined) target = Math.min(target, retention.upTo);
    if (retention.keepVersions !== undefined) target = Math.min(target, version - retention.keepVersions);
    if (retention.keepMs !== undefined) {
      const young = await tx.query<{ v: number | null }>(`SELECT min(version) AS v FROM ${s}.replication_log WHERE version > $1 AND created_at > $2`, [old, now - retention.keepMs]);
      if (young.rows[0]!.v !== null) target = Math.min(target, Number(young.rows[0]!.v) - 1);
    }
    if (target <= old) return { horizon: old, droppedRows: 0 };
    // The last whole commit at or below the target.
    const h = await tx.query<{ h: number | null }>(
      `SELECT max(coalesce(commit_version, version)) AS h FROM ${s}.replication_log WHERE version > $1 AND coalesce(commit_version, version) <= $2`,
      [old, target],
    );
    const horizon = h.rows[0]!.h === null ? old : Number(h.rows[0]!.h);
    if (horizon <= old) return { horizon: old, droppedRows: 0 };
    await foldIntoBase(tx, s, old, horizon);
    const row = await tx.query<{ client_id: string; mutation_id: number }>(`SELECT client_id, mutation_id FROM ${s}.replication_log WHERE version = $1`, [horizon]);
    const dropped = await tx.query<{ n: number }>(`WITH d AS (DELETE FROM ${s}.replication_log WHERE version <= $1 RETURNING 1) SELECT count(*)::int AS n FROM d`, [horizon]);
    await tx.query(`UPDATE ${s}.meta SET horizon = $1, horizon_fp = $2 WHERE id = 1`, [horizon, fingerprint(row.rows[0]!.client_id, Number(row.rows[0]!.mutation_id))]);
    return { horizon, droppedRows: Number(dropped.rows[0]!.n) };
  });
}

/** Per key, the last write in (from, to] replaces the base's value (a delete removes it). Elided puts are never a key's last write in a commit. */
async function foldIntoBase(tx: Queryable, s: string, from: number, to: number): Promise<void> {
  await tx.query(
    `WITH eff AS (
       SELECT l.version, e.ord, e.v->>'key' AS key, e.v->>'op' AS op, e.v->'value' AS value
         FROM ${s}.replication_log l, jsonb_array_elements(l.effects) WITH ORDINALITY AS e(v, ord)
        WHERE l.version > $1 AND l.version <= $2 AND l.error IS NULL AND NOT (e.v ? 'elided')
     ), last AS (
       SELECT DISTINCT ON (key) key, op, value, version FROM eff ORDER BY key, version DESC, ord DESC
     ), put AS (
       INSERT INTO ${s}.log_base AS b (key, value, version) SELECT key, value, version FROM last WHERE op = 'put'
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, version = EXCLUDED.version RETURNING 1
     ), del AS (
       DELETE FROM ${s}.log_base b USING last WHERE last.op = 'del' AND b.key = last.key RETURNING 1
     )
     SELECT (SELECT count(*) FROM put) AS puts, (SELECT count(*) FROM del) AS dels`,
    [from, to],
  );
}
