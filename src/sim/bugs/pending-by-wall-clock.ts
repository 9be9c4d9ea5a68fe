import { ClientDatabase } from '../../engine/client-database.ts';
import type { BugVariant } from './types.ts';

/** The original design's `ORDER BY timestamp ASC`: a clock that steps back reorders the queue. */
class WallClockOrderStore extends ClientDatabase {
  protected override readonly pendingOrder = 'timestamp';
}

export const pendingByWallClock: BugVariant = {
  name: 'pending-by-wall-clock',
  description: "pending mutations are ordered by the client's wall-clock timestamps instead of mutation ids",
  createStore: (db, schema, registry) => new WallClockOrderStore(db, schema, registry),
};
