import type { FaultModule } from './types.ts';
import type { z } from 'zod';
import type { partitionEventSchema } from '../schedule.ts';

/** The client thinks it is online, but nothing gets through: requests hang until they time out. */
export const partition: FaultModule<z.infer<typeof partitionEventSchema>> = {
  kind: 'partition',
  rate: 'partition',
  generate: (rng, t, client) => ({ t, kind: 'partition', client, durationMs: rng.int(500, 8_000) }),
  async apply(world, e) {
    const c = world.client(e.client);
    c.partitionedUntil = Math.max(c.partitionedUntil, world.sched.now + e.durationMs);
    world.sched.record(c.name, 'partition', `${e.durationMs} ms`);
  },
};

export function isPartitioned(world: { sched: { now: number } }, c: { partitionedUntil: number }): boolean {
  return world.sched.now < c.partitionedUntil;
}
