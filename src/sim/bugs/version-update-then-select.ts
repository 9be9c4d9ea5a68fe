import type { PushRequest } from '../../protocol/index.ts';
import { checkOrder, commitMutation, lockClient, runServerMutator } from './per-mutation-push.ts';
import { ServerDatabase } from '../../server/server-database.ts';
import type { BugVariant } from './types.ts';

/**
 * The original design's incrementVersion(): UPDATE, then a separate SELECT, outside the
 * mutation's transaction. Two pushes interleaving there both read the later value.
 */
class VersionUpdateThenSelectServer extends ServerDatabase {
  protected override async migrate() {
    await super.migrate();
    // The original log's version was only UNIQUE; without a key, duplicates go through.
    await this.db.exec(`ALTER TABLE ${this.s}.replication_log DROP CONSTRAINT IF EXISTS replication_log_pkey`);
  }
  override async push(req: PushRequest) {
    let processed = 0;
    let version = 0;
    for (const m of req.mutations) {
      await this.db.query(`UPDATE ${this.s}.meta SET version = version + 1 WHERE id = 1`);
      const v = await this.version();
      const now = this.clock.now();
      const applied = await this.db.transaction(async (tx) => {
        const last = await lockClient(tx, this.s, req.clientGroupID, m, now);
        if (checkOrder(m, last) === 'skip') return false;
        await commitMutation(tx, this.s, m, v, await runServerMutator(tx, this.s, this.registry, m), now);
        return true;
      });
      if (applied) {
        processed++;
        version = v;
      }
    }
    return { processed, skipped: req.mutations.length - processed, version };
  }
}

export const versionUpdateThenSelect: BugVariant = {
  name: 'version-update-then-select',
  description: 'the version counter is bumped by UPDATE and read by a separate SELECT outside the transaction',
  Server: VersionUpdateThenSelectServer,
};
