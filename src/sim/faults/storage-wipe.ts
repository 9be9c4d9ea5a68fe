import type { FaultModule } from './types.ts';
import type { z } from 'zod';
import type { wipeEventSchema } from '../schedule.ts';
import { killClient } from './client-crash.ts';

/**
 * The client loses its whole database (cleared site data) and comes back as a new client with a
 * new identity. Its unpushed mutations are lost on purpose; the no-lost-write checker knows.
 */
export const storageWipe: FaultModule<z.infer<typeof wipeEventSchema>> = {
  kind: 'wipe',
  rate: 'storageWipe',
  generate: (_rng, t, client) => ({ t, kind: 'wipe', client }),
  async apply(world, e) {
    const c = world.client(e.client);
    if (c.clientID) world.wipedClientIDs.add(c.clientID);
    killClient(world, c);
    world.sched.record(c.name, 'wipe', c.clientID ?? undefined);
    await world.clientDb.exec(`DROP SCHEMA IF EXISTS "${c.schema}" CASCADE`);
    c.generation++;
    c.engine = await world.openEngine(c);
    world.sched.record(c.name, 'restart', `new identity ${c.clientID}`);
  },
};
