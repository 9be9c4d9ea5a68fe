import { ProtocolError, type Cookie, type EntityData, type PatchOp, type PullRequest, type PullResponseOK } from '../protocol/index.ts';
import type { Queryable } from '../db/types.ts';
import type { ServerLimits } from './limits.ts';
import { emptyFingerprint, fingerprint } from './fingerprint.ts';

/** What pull reads about the database before it answers: one statement. */
interface PullHead {
  version: number;
  epoch: string;
  /** Log rows at or below the horizon were compacted away (compaction.ts). */
  horizon: number;
  /** Fingerprint of the current version, and of the cookie's version (undefined: no such row). */
  headFp: string;
  cookieFp: string | undefined;
  /** Fingerprint of the horizon's version (what a cookie at the horizon carries). */
  horizonFp: string | undefined;
}

async function readHead(tx: Queryable, s: string, cookieOrder: number, epochHint: string): Promise<PullHead> {
  const r = await tx.query<{ version: number; epoch: string | null; horizon: number; horizon_fp: string | null; hc: string | null; hm: number | null; cc: string | null; cm: number | null }>(
    `SELECT m.version, m.epoch, m.horizon, m.horizon_fp, h.client_id AS hc, h.mutation_id AS hm, c.client_id AS cc, c.mutation_id AS cm
       FROM ${s}.meta m
       LEFT JOIN ${s}.replication_log h ON h.version = m.version
       LEFT JOIN ${s}.replication_log c ON c.version = $1
      WHERE m.id = 1`,
    [cookieOrder],
  );
  const m = r.rows[0]!;
  const version = Number(m.version);
  const horizon = Number(m.horizon ?? 0);
  const fpAt = (v: number, client: string | null, mid: number | null): string | undefined =>
    v === 0 ? emptyFingerprint : client !== null ? fingerprint(client, Number(mid)) : v === horizon ? (m.horizon_fp ?? undefined) : undefined;
  return { version, epoch: m.epoch ?? epochHint, horizon, headFp: fpAt(version, m.hc, m.hm) ?? emptyFingerprint, cookieFp: cookieOrder < 0 ? undefined : fpAt(cookieOrder, m.cc, m.cm), horizonFp: horizon === 0 ? emptyFingerprint : (m.horizon_fp ?? undefined) };
}

/**
 * The version a request's cookie stands for in this database, or null for a full state (a new
 * client, or a cookie from before the compaction horizon: the log it would need is gone).
 * A cookie of another epoch, a pre-epoch number, one from the future, or one whose fingerprint
 * is not that of the mutation at its version here (a restore from an older backup that has moved
 * on) means the client's state is not this database's: ClientStateNotFound, and the client
 * starts over. A cookie below the horizon cannot be checked; its full resync is exact anyway.
 */
export function cookieVersion(cookie: Cookie, epoch: string, version: number, horizon = 0, cookieFp?: string): number | null {
  if (cookie === null) return null;
  if (typeof cookie === 'number' || cookie.epoch !== epoch || cookie.order > version) {
    throw new ProtocolError(200, { error: 'ClientStateNotFound' });
  }
  if (cookie.order < horizon) return null;
  if (cookie.fp !== undefined && cookieFp !== undefined && cookie.fp !== cookieFp) {
    throw new ProtocolError(200, { error: 'ClientStateNotFound' });
  }
  return cookie.order;
}

/**
 * The answer to a pull whose cookie is already at the server's version, from one statement (its
 * own snapshot: no transaction), or undefined when there is more to send (or a staged bootstrap
 * to go on with): then buildPull answers inside a snapshot. A cookie the database does not know
 * throws ClientStateNotFound here as there. Most pulls of a polling client end here.
 */
export async function upToDatePull(q: Queryable, s: string, req: PullRequest, epochHint: string): Promise<PullResponseOK | undefined> {
  if (req.cookie === null || typeof req.cookie !== 'object' || req.cookie.stage !== undefined) return undefined;
  const head = await readHead(q, s, req.cookie.order, epochHint);
  if (cookieVersion(req.cookie, head.epoch, head.version, head.horizon, head.cookieFp) !== head.version) return undefined;
  return { cookie: { order: head.version, epoch: head.epoch, fp: head.headFp }, lastMutationIDChanges: {}, patch: [], more: false };
}

/**
 * Builds one pull response inside the caller's snapshot (one transaction). The cookie is the
 * global version of that snapshot. A client far behind gets a page of the replication log
 * collapsed per key, ending at a commit boundary: applying it leaves the client exactly at the
 * server's state after that commit, so every page is a state the server really had. A page
 * holds whole commits up to limits.pageBytes of effects and limits.pageSize log rows; a single
 * commit over either still goes alone. A full state (a new client, or a cookie from before the
 * compaction horizon) is one page of the current entities when they fit the bounds; else, when
 * the log was never compacted, the log from version 0 in pages; else a staged bootstrap (see
 * basePage).
 */
export async function buildPull(tx: Queryable, s: string, req: PullRequest, limits: Pick<ServerLimits, 'pageSize' | 'pageBytes'>, epochHint: string): Promise<PullResponseOK> {
  const { pageSize, pageBytes } = limits;
  const order = req.cookie !== null && typeof req.cookie === 'object' ? req.cookie.order : -1;
  const head = await readHead(tx, s, order, epochHint);
  const { version, epoch } = head;
  const at = (o: number, fp: string) => ({ order: o, epoch, fp });
  if (req.cookie !== null && typeof req.cookie === 'object' && req.cookie.stage !== undefined) {
    // Mid-bootstrap: go on while the base it stages is still there, else start over.
    const c = req.cookie;
    if (c.epoch !== epoch || c.order > version) throw new ProtocolError(200, { error: 'ClientStateNotFound' });
    if (c.order === head.horizon && (c.fp === undefined || c.fp === (head.horizonFp ?? emptyFingerprint))) return basePage(tx, s, req.clientGroupID, head, c.stage, limits);
  }
  const cookie = req.cookie !== null && typeof req.cookie === 'object' && req.cookie.stage !== undefined
    ? null
    : cookieVersion(req.cookie, epoch, version, head.horizon, head.cookieFp);
  if (cookie === version) return { cookie: at(version, head.headFp), lastMutationIDChanges: {}, patch: [], more: false };

  if (cookie === null) {
    // A new client: the current state in one page when it fits (no need to replay history).
    const size = await tx.query<{ n: number; bytes: number | null }>(
      `SELECT count(*)::int AS n, sum(coalesce(bytes, octet_length(data::text)))::bigint AS bytes FROM ${s}.entities WHERE NOT deleted`,
    );
    const fits = size.rows[0]!.n <= pageSize && Number(size.rows[0]!.bytes ?? 0) <= pageBytes;
    // Behind a compaction horizon, a client that cannot stage pages (a stock Replicache client)
    // gets the whole state in one page past the bounds: the log before the horizon is gone, and
    // showing a partial base would expose a state the server never had.
    if (fits || (head.horizon > 0 && !req.stagedBootstrap)) {
      const ents = await tx.query<{ key: string; data: EntityData }>(`SELECT key, data FROM ${s}.entities WHERE NOT deleted ORDER BY key`);
      const clients = await tx.query<{ client_id: string; last_mutation_id: number }>(
        `SELECT client_id, last_mutation_id FROM ${s}.clients WHERE client_group_id = $1`,
        [req.clientGroupID],
      );
      return {
        cookie: at(version, head.headFp),
        lastMutationIDChanges: Object.fromEntries(clients.rows.map((c) => [c.client_id, Number(c.last_mutation_id)])),
        patch: [{ op: 'clear' }, ...ents.rows.map((r): PatchOp => ({ op: 'put', key: r.key, value: r.data }))],
        more: false,
      };
    }
    if (head.horizon > 0) return basePage(tx, s, req.clientGroupID, head, undefined, limits);
  }

  const from = cookie ?? 0;
  // The page ends at the last whole commit within both bounds, or takes the first commit alone.
  // Versions are dense (one log row each), so the row bound is a range scan on the key. The page
  // is collapsed per key (each key's last op, in the order of those last ops) and encoded as JSON
  // in SQL, one row of text: a row per log entry, each document decoded by the driver, was most
  // of the server's time for a large page.
  const log = await tx.query<{ upto: number | null; last_client: string | null; last_mid: number | null; lmids: string; patch: string }>(
    `WITH c AS (
       SELECT coalesce(commit_version, version) AS cv, sum(coalesce(bytes, octet_length(effects::text))) AS b
         FROM ${s}.replication_log WHERE version > $1 AND version <= $1 + $3
        GROUP BY 1
     ), r AS (SELECT cv, sum(b) OVER (ORDER BY cv) AS run FROM c),
     e AS (SELECT coalesce(max(cv) FILTER (WHERE run <= $4 AND cv <= $1 + $3), min(cv)) AS upto FROM r),
     l AS MATERIALIZED (SELECT l.version, l.client_id, l.mutation_id, l.effects FROM e, ${s}.replication_log l WHERE l.version > $1 AND l.version <= e.upto),
     ops AS (
       SELECT DISTINCT ON (o.op->>'key') o.op, l.version, o.n
         FROM l, jsonb_array_elements(l.effects) WITH ORDINALITY AS o(op, n)
        ORDER BY o.op->>'key', l.version DESC, o.n DESC)
     SELECT e.upto,
            (SELECT client_id FROM l WHERE l.version = e.upto) AS last_client,
            (SELECT mutation_id FROM l WHERE l.version = e.upto) AS last_mid,
            (SELECT coalesce(json_object_agg(client_id, m), '{}')::text FROM (
               SELECT l.client_id, max(l.mutation_id) AS m FROM l JOIN ${s}.clients c ON c.client_id = l.client_id
                WHERE c.client_group_id = $2 GROUP BY l.client_id) AS mine) AS lmids,
            (SELECT coalesce(json_agg(op ORDER BY version, n), '[]')::text FROM ops) AS patch
       FROM e`,
    [from, req.clientGroupID, pageSize, pageBytes],
  );
  const row = log.rows[0]!;
  const upTo = row.upto === null ? version : Number(row.upto);
  const upToFp = row.last_client !== null ? fingerprint(row.last_client, Number(row.last_mid)) : head.headFp;
  const lmids = Object.fromEntries(Object.entries(JSON.parse(row.lmids) as Record<string, number>).map(([k, v]) => [k, Number(v)]));
  const ops = JSON.parse(row.patch) as PatchOp[];
  const patch: PatchOp[] = cookie === null ? [{ op: 'clear' }, ...ops] : ops;
  // More follows when this page ends before the snapshot's version (the engine pulls again only then).
  return { cookie: at(upTo, upToFp), lastMutationIDChanges: lmids, patch, more: upTo < version };
}

/**
 * A staged bootstrap: the compacted base (the state at the horizon, log_base) in pages of keys
 * in order, each within limits.pageBytes and limits.pageSize (one bigger document goes alone).
 * Every page's cookie is the horizon with `stage`, the last key sent: the base cannot change
 * while the horizon stays (only compaction writes it, and it moves the horizon), so pages read
 * in separate transactions still add up to the one state the server had at the horizon. If the
 * horizon moved meanwhile, the next request starts over (a page that begins with a clear). The
 * client stages pages and shows nothing until the last one, whose cookie has no stage and which
 * carries the group's last mutation ids at the horizon; the log after the horizon follows in
 * ordinary pages.
 */
async function basePage(
  tx: Queryable, s: string, clientGroupID: string, head: PullHead, after: string | undefined, limits: Pick<ServerLimits, 'pageSize' | 'pageBytes'>,
): Promise<PullResponseOK> {
  const horizonFp = head.horizonFp ?? emptyFingerprint;
  const rows = await tx.query<{ key: string; value: EntityData }>(
    `SELECT key, value FROM (
       SELECT key, value, row_number() OVER (ORDER BY key) AS n, sum(octet_length(value::text)) OVER (ORDER BY key) AS run
         FROM (SELECT key, value FROM ${s}.log_base WHERE $1::text IS NULL OR key > $1 ORDER BY key LIMIT $2) AS b
     ) AS w WHERE n = 1 OR run <= $3 ORDER BY key`,
    [after ?? null, limits.pageSize, limits.pageBytes],
  );
  const patch: PatchOp[] = rows.rows.map((r): PatchOp => ({ op: 'put', key: r.key, value: r.value }));
  if (after === undefined) patch.unshift({ op: 'clear' });
  const lastKey = rows.rows.length ? rows.rows[rows.rows.length - 1]!.key : after;
  const more = lastKey !== undefined && (await tx.query(`SELECT 1 FROM ${s}.log_base WHERE key > $1 LIMIT 1`, [lastKey])).rows.length > 0;
  const cookie = { order: head.horizon, epoch: head.epoch, fp: horizonFp };
  if (more) return { cookie: { ...cookie, stage: lastKey! }, lastMutationIDChanges: {}, patch, more: true };
  // The group's last mutation ids at the horizon: a client's ids are dense in the log (failed
  // mutations take a row too), so one below its first id after the horizon, if it has one.
  const lmids = await tx.query<{ client_id: string; lmid: number }>(
    `SELECT c.client_id, coalesce((SELECT min(l.mutation_id) - 1 FROM ${s}.replication_log l WHERE l.client_id = c.client_id AND l.version > $2), c.last_mutation_id) AS lmid
       FROM ${s}.clients c WHERE c.client_group_id = $1`,
    [clientGroupID, head.horizon],
  );
  // The log after the horizon follows in ordinary pages, if there is any.
  return { cookie, lastMutationIDChanges: Object.fromEntries(lmids.rows.map((r) => [r.client_id, Number(r.lmid)])), patch, more: head.version > head.horizon };
}
