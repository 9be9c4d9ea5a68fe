import type { Queryable } from '../../db/types.ts';
import type { Mutation } from '../../protocol/index.ts';
import { PerMutationServer, type MutationResult } from './per-mutation-push.ts';
import type { BugVariant } from './types.ts';

/**
 * The original design's create: ON CONFLICT DO UPDATE SET data = ... never clears is_deleted,
 * so an entity re-created after a delete stays deleted on the server.
 */
class RecreateStaysDeletedServer extends PerMutationServer {
  protected override async applyMutation(tx: Queryable, clientGroupID: string, m: Mutation): Promise<MutationResult> {
    const tomb = await tx.query<{ key: string }>(`SELECT key FROM ${this.s}.entities WHERE deleted`);
    const r = await super.applyMutation(tx, clientGroupID, m);
    const keys = tomb.rows.map((t) => t.key);
    if (r.kind === 'applied' && keys.length) {
      await tx.query(`UPDATE ${this.s}.entities SET deleted = true WHERE key = ANY($1::text[])`, [keys]);
    }
    return r;
  }
}

export const recreateStaysDeleted: BugVariant = {
  name: 'recreate-stays-deleted',
  description: 'an upsert after a delete updates the data but leaves the server row marked deleted',
  Server: RecreateStaysDeletedServer,
};
