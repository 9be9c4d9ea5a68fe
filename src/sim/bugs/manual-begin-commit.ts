import type { PushRequest } from '../../protocol/index.ts';
import { checkOrder, commitMutation, lockClient, nextVersion, runServerMutator } from './per-mutation-push.ts';
import { ServerDatabase } from '../../server/server-database.ts';
import type { BugVariant } from './types.ts';

/**
 * The original design's `db.query("BEGIN")`: on PGlite's single shared session every other
 * request's statements land inside (and commit or roll back) this "transaction".
 */
class ManualBeginServer extends ServerDatabase {
  override async push(req: PushRequest) {
    let processed = 0;
    let version = 0;
    for (const m of req.mutations) {
      const now = this.clock.now();
      await this.db.query('BEGIN');
      try {
        const last = await lockClient(this.db, this.s, req.clientGroupID, m, now);
        if (checkOrder(m, last) === 'skip') {
          await this.db.query('COMMIT');
          continue;
        }
        const v = await nextVersion(this.db, this.s);
        await commitMutation(this.db, this.s, m, v, await runServerMutator(this.db, this.s, this.registry, m), now);
        await this.db.query('COMMIT');
        processed++;
        version = v;
      } catch (e) {
        await this.db.query('ROLLBACK');
        throw e;
      }
    }
    return { processed, skipped: req.mutations.length - processed, version };
  }
}

export const manualBeginCommit: BugVariant = {
  name: 'manual-begin-commit',
  description: 'push runs BEGIN/COMMIT by hand through the shared PGlite session instead of db.transaction',
  Server: ManualBeginServer,
};
