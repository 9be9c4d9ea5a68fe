import type { Mutation, PushRequest } from '../../protocol/index.ts';
import type { Queryable } from '../../db/types.ts';
import { PerMutationServer, commitMutation, lockClient, nextVersion, runServerMutator, type MutationResult } from './per-mutation-push.ts';
import type { BugVariant } from './types.ts';

/** No last-mutation-id check: a push retried after a lost response applies again. */
class NonIdempotentServer extends PerMutationServer {
  protected override async migrate() {
    await super.migrate();
    // The original design's log had no (client, mutation) uniqueness to save it.
    await this.db.exec(`ALTER TABLE ${this.s}.replication_log DROP CONSTRAINT IF EXISTS replication_log_client_id_mutation_id_key`);
  }
  override async push(req: PushRequest) {
    // Also no batch pre-check: every mutation goes through applyMutation.
    let version = 0;
    for (const m of req.mutations) {
      const r = await this.db.transaction((tx) => this.applyMutation(tx, req.clientGroupID, m));
      if (r.kind === 'applied') version = r.version;
    }
    return { processed: req.mutations.length, skipped: 0, version };
  }
  protected override async applyMutation(tx: Queryable, clientGroupID: string, m: Mutation): Promise<MutationResult> {
    await lockClient(tx, this.s, clientGroupID, m, this.clock.now());
    const version = await nextVersion(tx, this.s);
    const outcome = await runServerMutator(tx, this.s, this.registry, m);
    await commitMutation(tx, this.s, m, version, outcome, this.clock.now());
    return { kind: 'applied', version, effects: outcome.effects, error: outcome.error };
  }
}

export const nonIdempotentPush: BugVariant = {
  name: 'non-idempotent-push',
  description: 'push has no last-mutation-id check, so a retry after a lost response applies twice',
  Server: NonIdempotentServer,
};
