import { ClientDatabase, type DeferredWrite } from '../../engine/client-database.ts';
import { quoteIdent } from '../../db/types.ts';
import type { BugVariant } from './types.ts';

/**
 * The deferred mode's flush stores the writes, but their next id only in memory (meta keeps the
 * one the store opened with, as if written at close): the stored state says ids it holds were
 * never created, and a crash would hand out ids the server has seen again. Only engines in the
 * deferred mode flush (a third of the swarm seeds, the first one among them).
 */
class FlushNextIdInMemoryStore extends ClientDatabase {
  private opened: number | undefined;

  protected override async queueAndApplyBatch(writes: readonly DeferredWrite[]): Promise<boolean> {
    const meta = `${quoteIdent(this.schema)}.meta`;
    this.opened ??= (await this.readMeta())!.nextMutationID;
    // What memory says, for the batch's own check; then back to what the store opened with.
    await this.db.query(`UPDATE ${meta} SET next_mutation_id = $1 WHERE id = 1`, [writes[0]!.mutation.id]);
    const ok = await super.queueAndApplyBatch(writes);
    await this.db.query(`UPDATE ${meta} SET next_mutation_id = $1 WHERE id = 1`, [this.opened]);
    return ok;
  }
}

export const flushNextIdInMemory: BugVariant = {
  name: 'flush-next-id-in-memory',
  description: "the deferred mode's flush leaves the stored next mutation id behind the ids it stored",
  createStore: (db, schema, registry, limits) => new FlushNextIdInMemoryStore(db, schema, registry, limits),
};
