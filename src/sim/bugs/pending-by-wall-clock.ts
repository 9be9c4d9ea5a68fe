import { ClientDatabase } from '../../engine/client-database.ts';
import type { Queryable } from '../../db/types.ts';
import type { JSONValue, Mutation } from '../../protocol/index.ts';
import type { BugVariant } from './types.ts';

/** The original design's `ORDER BY timestamp ASC`: a clock that steps back reorders the queue. */
class WallClockOrderStore extends ClientDatabase {
  override async pendingMutations(limit = 1_000_000, q: Queryable = this.db, afterID = 0): Promise<Mutation[]> {
    const meta = (await this.readMeta(q))!;
    const r = await q.query<{ mutation_id: number; name: string; args: JSONValue; timestamp: number }>(
      `SELECT mutation_id, name, args, timestamp FROM ${this.s}.pending WHERE mutation_id > $2 ORDER BY timestamp LIMIT $1`,
      [limit, afterID],
    );
    return r.rows.map((row) => ({ clientID: meta.clientID, id: Number(row.mutation_id), name: row.name, args: row.args, timestamp: Number(row.timestamp) }));
  }
}

export const pendingByWallClock: BugVariant = {
  name: 'pending-by-wall-clock',
  description: "pending mutations are ordered by the client's wall-clock timestamps instead of mutation ids",
  createStore: (db, schema, registry, limits) => new WallClockOrderStore(db, schema, registry, limits),
};
