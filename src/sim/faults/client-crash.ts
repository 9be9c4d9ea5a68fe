import type { FaultModule } from './types.ts';
import type { z } from 'zod';
import type { crashEventSchema } from '../schedule.ts';
import type { SimClient, World } from '../world-types.ts';

/** Kills a client's tasks (open transactions roll back) and forgets its in-memory state. */
export function killClient(world: World, c: SimClient): void {
  world.sched.kill(c.name);
  c.engine = null;
  c.incarnation++;
}

/**
 * A client crash at any point: in-flight requests and in-memory state are gone; after the
 * downtime it restarts from what its PGlite committed (same schema, same identity).
 */
export const clientCrash: FaultModule<z.infer<typeof crashEventSchema>> = {
  kind: 'crash',
  rate: 'clientCrash',
  generate: (rng, t, client) => ({ t, kind: 'crash', client, downMs: rng.int(0, 3_000) }),
  async apply(world, e) {
    const c = world.client(e.client);
    if (!c.engine) return; // already down
    killClient(world, c);
    world.sched.record(c.name, 'crash', `down ${e.downMs} ms`);
    const incarnation = c.incarnation;
    world.sched.spawn(c.name, 'restart', async () => {
      if (c.incarnation !== incarnation || c.engine) return;
      c.engine = await world.openEngine(c);
      world.sched.record(c.name, 'restart', c.clientID ?? undefined);
    }, e.downMs);
  },
};
