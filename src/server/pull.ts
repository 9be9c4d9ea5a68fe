import { ProtocolError, type Cookie, type EntityData, type PatchOp, type PullRequest, type PullResponseOK } from '../protocol/index.ts';
import type { Queryable } from '../db/types.ts';
import type { ServerLimits } from './limits.ts';

/**
 * The version a request's cookie stands for in this database, or null for a new client.
 * A cookie of another epoch, a pre-epoch number or one from the future means the client's
 * state is not this database's: ClientStateNotFound, and the client starts over.
 */
export function cookieVersion(cookie: Cookie, epoch: string, version: number): number | null {
  if (cookie === null) return null;
  if (typeof cookie === 'number' || cookie.epoch !== epoch || cookie.order > version) {
    throw new ProtocolError(200, { error: 'ClientStateNotFound' });
  }
  return cookie.order;
}

/**
 * Builds one pull response inside the caller's snapshot (one transaction). The cookie is the
 * global version of that snapshot. A client far behind gets a page of the replication log
 * collapsed per key, ending at a commit boundary: applying it leaves the client exactly at the
 * server's state after that commit, so every page is a state the server really had. A page
 * holds whole commits up to limits.pageBytes of effects and limits.pageSize log rows; a single
 * commit over either still goes alone.
 */
export async function buildPull(tx: Queryable, s: string, req: PullRequest, limits: Pick<ServerLimits, 'pageSize' | 'pageBytes'>, epochHint: string): Promise<PullResponseOK> {
  const { pageSize, pageBytes } = limits;
  const meta = await tx.query<{ version: number; epoch: string | null }>(`SELECT version, epoch FROM ${s}.meta WHERE id = 1`);
  const version = Number(meta.rows[0]!.version);
  const epoch = meta.rows[0]!.epoch ?? epochHint;
  const at = (order: number) => ({ order, epoch });
  const cookie = cookieVersion(req.cookie, epoch, version);
  if (cookie === version) return { cookie: at(version), lastMutationIDChanges: {}, patch: [] };

  if (cookie === null) {
    // A new client: the current state in one page when it fits (no need to replay history).
    const size = await tx.query<{ n: number; bytes: number | null }>(
      `SELECT count(*)::int AS n, sum(coalesce(bytes, octet_length(data::text)))::bigint AS bytes FROM ${s}.entities WHERE NOT deleted`,
    );
    if (size.rows[0]!.n <= pageSize && Number(size.rows[0]!.bytes ?? 0) <= pageBytes) {
      const ents = await tx.query<{ key: string; data: EntityData }>(`SELECT key, data FROM ${s}.entities WHERE NOT deleted ORDER BY key`);
      const clients = await tx.query<{ client_id: string; last_mutation_id: number }>(
        `SELECT client_id, last_mutation_id FROM ${s}.clients WHERE client_group_id = $1`,
        [req.clientGroupID],
      );
      return {
        cookie: at(version),
        lastMutationIDChanges: Object.fromEntries(clients.rows.map((c) => [c.client_id, Number(c.last_mutation_id)])),
        patch: [{ op: 'clear' }, ...ents.rows.map((r): PatchOp => ({ op: 'put', key: r.key, value: r.data }))],
      };
    }
  }

  const from = cookie ?? 0;
  // The page ends at the last whole commit within both bounds, or takes the first commit alone.
  // Versions are dense (one log row each), so the row bound is a range scan on the key.
  const log = await tx.query<{ version: number; client_id: string; mutation_id: number; effects: PatchOp[]; mine: boolean; upto: number }>(
    `WITH c AS (
       SELECT coalesce(commit_version, version) AS cv, sum(coalesce(bytes, octet_length(effects::text))) AS b
         FROM ${s}.replication_log WHERE version > $1 AND version <= $1 + $3
        GROUP BY 1
     ), r AS (SELECT cv, sum(b) OVER (ORDER BY cv) AS run FROM c),
     e AS (SELECT coalesce(max(cv) FILTER (WHERE run <= $4 AND cv <= $1 + $3), min(cv)) AS upto FROM r)
     SELECT l.version, l.client_id, l.mutation_id, l.effects, (c.client_group_id = $2) AS mine, e.upto
       FROM e, ${s}.replication_log l JOIN ${s}.clients c ON c.client_id = l.client_id
      WHERE l.version > $1 AND l.version <= e.upto ORDER BY l.version`,
    [from, req.clientGroupID, pageSize, pageBytes],
  );
  // Versions are dense (one log row each), so the rows reach the page's last commit.
  const upTo = log.rows.length ? Number(log.rows[0]!.upto) : version;
  const collapsed = new Map<string, PatchOp>();
  const lmids: Record<string, number> = {};
  for (const row of log.rows) {
    for (const e of row.effects) {
      const key = (e as { key: string }).key;
      collapsed.delete(key);
      collapsed.set(key, e);
    }
    if (row.mine) lmids[row.client_id] = Math.max(lmids[row.client_id] ?? 0, Number(row.mutation_id));
  }
  const patch: PatchOp[] = cookie === null ? [{ op: 'clear' }, ...collapsed.values()] : [...collapsed.values()];
  return { cookie: at(upTo), lastMutationIDChanges: lmids, patch };
}
