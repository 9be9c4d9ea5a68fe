import type { PatchOp, PullRequest, PullResponseOK } from '../../protocol/index.ts';
import { ServerDatabase } from '../../server/server-database.ts';
import { cookieVersion } from '../../server/pull.ts';
import type { BugVariant } from './types.ts';

/**
 * The cookie is the server's clock instead of the global version: a mutation committed later
 * in the same millisecond has created_at == cookie and is never sent.
 */
class TimestampCookieServer extends ServerDatabase {
  override async pull(req: PullRequest): Promise<PullResponseOK> {
    return this.db.transaction(async (tx) => {
      const cookie = this.clock.now();
      const log = await tx.query<{ client_id: string; mutation_id: number; effects: PatchOp[]; mine: boolean }>(
        `SELECT l.client_id, l.mutation_id, l.effects, (c.client_group_id = $2) AS mine
           FROM ${this.s}.replication_log l JOIN ${this.s}.clients c ON c.client_id = l.client_id
          WHERE l.created_at > $1 ORDER BY l.version`,
        [cookieVersion(req.cookie, this.epoch, Number.MAX_SAFE_INTEGER) ?? -1, req.clientGroupID],
      );
      const patch: PatchOp[] = req.cookie === null ? [{ op: 'clear' }] : [];
      const lmids: Record<string, number> = {};
      for (const row of log.rows) {
        patch.push(...row.effects);
        if (row.mine) lmids[row.client_id] = Math.max(lmids[row.client_id] ?? 0, Number(row.mutation_id));
      }
      return { cookie: { order: cookie, epoch: this.epoch }, lastMutationIDChanges: lmids, patch };
    });
  }
}

export const timestampCookie: BugVariant = {
  name: 'timestamp-cookie',
  description: "the pull cookie is the server's wall-clock time instead of the global version",
  Server: TimestampCookieServer,
};
