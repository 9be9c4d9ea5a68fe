import type { PatchOp, PullRequest, PullResponseOK } from '../../protocol/index.ts';
import { ServerDatabase } from '../../server/server-database.ts';
import { cookieVersion } from '../../server/pull.ts';
import type { BugVariant } from './types.ts';

/**
 * The original design's pull: the log since the cookie, then the current version, in two
 * statements outside any transaction. A push committing between them is skipped forever.
 */
class TwoStatementPullServer extends ServerDatabase {
  override async pull(req: PullRequest): Promise<PullResponseOK> {
    const from = cookieVersion(req.cookie, this.epoch, Number.MAX_SAFE_INTEGER) ?? 0;
    const log = await this.db.query<{ client_id: string; mutation_id: number; effects: PatchOp[]; mine: boolean }>(
      `SELECT l.client_id, l.mutation_id, l.effects, (c.client_group_id = $2) AS mine
         FROM ${this.s}.replication_log l JOIN ${this.s}.clients c ON c.client_id = l.client_id
        WHERE l.version > $1 ORDER BY l.version`,
      [from, req.clientGroupID],
    );
    const version = await this.version();
    const patch: PatchOp[] = req.cookie === null ? [{ op: 'clear' }] : [];
    const lmids: Record<string, number> = {};
    for (const row of log.rows) {
      patch.push(...row.effects);
      if (row.mine) lmids[row.client_id] = Math.max(lmids[row.client_id] ?? 0, Number(row.mutation_id));
    }
    return { cookie: { order: version, epoch: this.epoch }, lastMutationIDChanges: lmids, patch };
  }
}

export const twoStatementPull: BugVariant = {
  name: 'two-statement-pull',
  description: 'pull reads the log and the current version in two statements, outside one snapshot',
  Server: TwoStatementPullServer,
};
