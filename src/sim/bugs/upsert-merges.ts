import { ClientDatabase } from '../../engine/client-database.ts';
import { builtinMutators, defineMutator, type MutatorRegistry } from '../../protocol/index.ts';
import { ServerDatabase } from '../../server/server-database.ts';
import type { BugVariant } from './types.ts';

/**
 * A shared mutator bug: upsert merges the new fields into the old document instead of replacing
 * it, on the client and on the server alike. Both sides agree, so convergence (and re-running
 * the mutators) cannot see it; only the specification's model can.
 */
const merging: MutatorRegistry = {
  ...builtinMutators,
  upsert: defineMutator(builtinMutators.upsert.args, async (tx, a) => {
    tx.put(a.type, a.id, { ...((await tx.get(a.type, a.id)) ?? {}), ...a.data });
  }),
};

class MergingServer extends ServerDatabase {
  constructor(...args: ConstructorParameters<typeof ServerDatabase>) {
    super(...args);
    (this as { registry: MutatorRegistry }).registry = { ...this.registry, upsert: merging.upsert! };
  }
}

export const upsertMerges: BugVariant = {
  name: 'upsert-merges',
  description: 'upsert merges into the existing document instead of replacing it, the same wrong way on client and server',
  Server: MergingServer,
  createStore: (db, schema, registry) => new ClientDatabase(db, schema, { ...registry, upsert: merging.upsert! }),
};
