import type { PushRequest } from '../../protocol/index.ts';
import { advanceClient, checkOrder, commitMutation, lockClient, nextVersion, runServerMutator } from './per-mutation-push.ts';
import { ServerDatabase } from '../../server/server-database.ts';
import type { BugVariant } from './types.ts';

/**
 * The effects commit in one transaction and the last mutation id advances in a later statement:
 * a crash between them, or a duplicate delivery interleaving there, applies the mutation again.
 */
class LmidOutsideServer extends ServerDatabase {
  protected override async migrate() {
    await super.migrate();
    await this.db.exec(`ALTER TABLE ${this.s}.replication_log DROP CONSTRAINT IF EXISTS replication_log_client_id_mutation_id_key`);
  }
  override async push(req: PushRequest) {
    let processed = 0;
    let version = 0;
    for (const m of req.mutations) {
      const now = this.clock.now();
      const applied = await this.db.transaction(async (tx) => {
        const last = await lockClient(tx, this.s, req.clientGroupID, m, now);
        if (checkOrder(m, last) === 'skip') return undefined;
        const v = await nextVersion(tx, this.s);
        await commitMutation(tx, this.s, m, v, await runServerMutator(tx, this.s, this.registry, m), now, false);
        return v;
      });
      if (applied === undefined) continue;
      await advanceClient(this.db, this.s, m, applied, now);
      processed++;
      version = applied;
    }
    return { processed, skipped: req.mutations.length - processed, version };
  }
}

export const lmidOutsideTransaction: BugVariant = {
  name: 'lmid-outside-transaction',
  description: "the client's last mutation id is advanced outside the mutation's transaction",
  Server: LmidOutsideServer,
};
