import { ProtocolError, type Cookie, type EntityData, type PatchOp, type PullRequest, type PullResponseOK } from '../protocol/index.ts';
import type { Queryable } from '../db/types.ts';

/**
 * Builds one pull response inside the caller's snapshot (one transaction). The cookie is the
 * global version of that snapshot. A client far behind gets a page of the replication log
 * collapsed per key: applying it leaves the client exactly at the server's state at the page's
 * last version, so every page is a state the server really had.
 */
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

export async function buildPull(tx: Queryable, s: string, req: PullRequest, pageSize: number, epochHint: string): Promise<PullResponseOK> {
  const meta = await tx.query<{ version: number; epoch: string | null }>(`SELECT version, epoch FROM ${s}.meta WHERE id = 1`);
  const version = Number(meta.rows[0]!.version);
  const epoch = meta.rows[0]!.epoch ?? epochHint;
  const at = (order: number) => ({ order, epoch });
  const cookie = cookieVersion(req.cookie, epoch, version);
  if (cookie === version) return { cookie: at(version), lastMutationIDChanges: {}, patch: [] };

  if (cookie === null) {
    // A new client: the current state in one page when it fits (no need to replay history).
    const ents = await tx.query<{ key: string; data: EntityData }>(
      `SELECT key, data FROM ${s}.entities WHERE NOT deleted ORDER BY key LIMIT $1`,
      [pageSize + 1],
    );
    if (ents.rows.length <= pageSize) {
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
  const log = await tx.query<{ version: number; client_id: string; mutation_id: number; effects: PatchOp[]; mine: boolean }>(
    `SELECT l.version, l.client_id, l.mutation_id, l.effects, (c.client_group_id = $2) AS mine
       FROM ${s}.replication_log l JOIN ${s}.clients c ON c.client_id = l.client_id
      WHERE l.version > $1 ORDER BY l.version LIMIT $3`,
    [from, req.clientGroupID, pageSize],
  );
  // Every version has exactly one log row, so a short page reaches the snapshot's version.
  const upTo = log.rows.length === pageSize ? Number(log.rows[log.rows.length - 1]!.version) : version;
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
