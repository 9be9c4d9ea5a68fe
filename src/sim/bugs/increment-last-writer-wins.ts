import { ClientDatabase } from '../../engine/client-database.ts';
import { entityKey, incrementArgsSchema, type Mutation } from '../../protocol/index.ts';
import type { EntityChange } from '../../engine/client-database.ts';
import type { BugVariant } from './types.ts';

/**
 * Snapshot sync instead of mutator sync: the client computes the new counter value and sends it
 * as a whole-document upsert, so two offline increments are last-writer-wins and one is lost.
 */
class IncrementAsUpsertStore extends ClientDatabase {
  override async mutate(name: string, args: unknown, timestamp: number): Promise<{ mutation: Mutation; changes: EntityChange[] }> {
    if (name !== 'increment') return super.mutate(name, args, timestamp);
    const a = incrementArgsSchema.parse(args);
    const current = (await this.visibleMap()).get(entityKey(a.type, a.id)) ?? {};
    const prev = typeof current[a.field] === 'number' ? (current[a.field] as number) : 0;
    return super.mutate('upsert', { type: a.type, id: a.id, data: { ...current, [a.field]: prev + a.by } }, timestamp);
  }
}

export const incrementLastWriterWins: BugVariant = {
  name: 'increment-last-writer-wins',
  description: "increment is sent as an upsert of the client's computed value, so concurrent increments are lost",
  createStore: (db, schema, registry, limits) => new IncrementAsUpsertStore(db, schema, registry, limits),
};
