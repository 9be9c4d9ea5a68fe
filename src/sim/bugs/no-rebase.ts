import { ClientDatabase, type PullApplyResult } from '../../engine/client-database.ts';
import type { CookieObject, PatchOp } from '../../protocol/index.ts';
import type { BugVariant } from './types.ts';

/** The original design's pull: server changes are written straight over the local entities. */
class NoRebaseStore extends ClientDatabase {
  override async applyPull(baseCookie: number | null, resp: { cookie: CookieObject; lastMutationIDChanges: Record<string, number>; patch: PatchOp[] }): Promise<PullApplyResult> {
    return this.db.transaction(async (tx) => {
      const meta = (await this.readMeta(tx))!;
      if (meta.cookie !== baseCookie) return { applied: false, changes: [], droppedPending: 0 };
      const acked = Math.max(meta.lastMutationID, resp.lastMutationIDChanges[meta.clientID] ?? 0);
      const dropped = acked > meta.lastMutationID ? await this.dropAcknowledged(tx, acked) : 0;
      await tx.query(`UPDATE ${this.s}.meta SET cookie = $1, last_mutation_id = $2, cookie_epoch = $3 WHERE id = 1`, [resp.cookie.order, acked, resp.cookie.epoch]);
      await this.applyToSnapshot(tx, resp.patch);
      const lastClear = resp.patch.map((o) => o.op).lastIndexOf('clear');
      if (lastClear >= 0) await tx.query(`DELETE FROM ${this.s}.visible`);
      await this.applyToVisible(tx, resp.patch.slice(lastClear + 1));
      return { applied: true, changes: [], droppedPending: dropped };
    });
  }
}

export const noRebase: BugVariant = {
  name: 'no-rebase',
  description: 'pull writes the server patch over the visible state without replaying pending mutations',
  createStore: (db, schema, registry, limits) => new NoRebaseStore(db, schema, registry, limits),
};
