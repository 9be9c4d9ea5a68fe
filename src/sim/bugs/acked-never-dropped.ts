import { ClientDatabase } from '../../engine/client-database.ts';
import type { Queryable } from '../../db/types.ts';
import type { BugVariant } from './types.ts';

/** The original design's markChangesSynced that never ran: acknowledged mutations stay queued and replay forever. */
class AckedNeverDroppedStore extends ClientDatabase {
  protected override async dropAcknowledged(_tx: Queryable, _upTo: number): Promise<number> {
    return 0;
  }
}

export const ackedNeverDropped: BugVariant = {
  name: 'acked-never-dropped',
  description: 'pending mutations acknowledged by the server are never removed, so rebase replays them again',
  createStore: (db, schema, registry, limits) => new AckedNeverDroppedStore(db, schema, registry, limits),
};
