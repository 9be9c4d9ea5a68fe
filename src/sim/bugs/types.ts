import type { Db } from '../../db/types.ts';
import type { SimulationHooks } from '../../engine/simulation.ts';
import type { ServerDatabase, ServerDatabaseOptions } from '../../server/server-database.ts';

/**
 * A planted bug: an implementation with one of the original design's flaws, behind the same
 * seams as the real one. Selectable only by the simulator (`lockstep run --bug NAME`).
 */
export interface BugVariant {
  name: string;
  /** One line: the flaw, as the original design had it. */
  description: string;
  /** A ServerDatabase subclass to use instead of the real one. */
  Server?: new (db: Db, options: ServerDatabaseOptions) => ServerDatabase;
  /** A ClientDatabase subclass (the engine's simulation.createStore extension point). */
  createStore?: SimulationHooks['createStore'];
}
