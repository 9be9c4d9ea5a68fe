import type { Queryable } from '../../db/types.ts';
import { builtinMutators, defineMutator, type Mutation, type MutatorRegistry } from '../../protocol/index.ts';
import { PerMutationServer, checkOrder, commitMutation, lockClient, nextVersion, runServerMutator, type MutationResult } from './per-mutation-push.ts';
import type { BugVariant } from './types.ts';

/** The original design's applyChangeToEntity switch had cases create, update and delete, but clients send upsert. */
const switchWithoutUpsert: MutatorRegistry = {
  ...builtinMutators,
  upsert: defineMutator(builtinMutators.upsert.args, async () => {}),
};

class UpsertIgnoredServer extends PerMutationServer {
  protected override async applyMutation(tx: Queryable, clientGroupID: string, m: Mutation): Promise<MutationResult> {
    const now = this.clock.now();
    const last = await lockClient(tx, this.s, clientGroupID, m, now);
    if (checkOrder(m, last) === 'skip') return { kind: 'skipped', lastMutationID: last };
    const version = await nextVersion(tx, this.s);
    const outcome = await runServerMutator(tx, this.s, switchWithoutUpsert, m);
    await commitMutation(tx, this.s, m, version, outcome, now);
    return { kind: 'applied', version, effects: outcome.effects };
  }
}

export const upsertIgnored: BugVariant = {
  name: 'upsert-ignored',
  description: "the server's create/update switch has no upsert case, so upserts are silently dropped",
  Server: UpsertIgnoredServer,
};
