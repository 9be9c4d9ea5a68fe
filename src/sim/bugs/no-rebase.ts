import { ClientDatabase, type PullApplyResult } from '../../engine/client-database.ts';
import { jsonChunks } from '../../engine/json-chunks.ts';
import type { Queryable } from '../../db/types.ts';
import type { CookieObject, EntityData, PatchOp } from '../../protocol/index.ts';
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

  /** The patch's puts and deletes written to the visible state, one statement per kind (only this bug writes it so). */
  private async applyToVisible(q: Queryable, effects: readonly PatchOp[]): Promise<void> {
    const puts: { key: string; type: string; id: string; data: EntityData }[] = [];
    const dels: string[] = [];
    for (const e of effects) {
      if (e.op === 'put') puts.push({ key: e.key, type: e.key.slice(0, e.key.indexOf('/')), id: e.key.slice(e.key.indexOf('/') + 1), data: e.value });
      else if (e.op === 'del') dels.push(e.key);
    }
    if (dels.length) await q.query(`DELETE FROM ${this.s}.visible WHERE key = ANY($1::text[])`, [dels]);
    for (const chunk of jsonChunks(puts, this.applyChunkBytes)) {
      await q.query(
        `INSERT INTO ${this.s}.visible (key, type, id, data)
         SELECT key, type, id, data FROM jsonb_to_recordset($1::jsonb) AS r(key text, type text, id text, data jsonb)
         ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data`,
        [chunk],
      );
    }
  }
}

export const noRebase: BugVariant = {
  name: 'no-rebase',
  description: 'pull writes the server patch over the visible state without replaying pending mutations',
  createStore: (db, schema, registry, limits) => new NoRebaseStore(db, schema, registry, limits),
};
