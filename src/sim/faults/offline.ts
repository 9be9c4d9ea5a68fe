import type { FaultModule } from './types.ts';
import type { z } from 'zod';
import type { offlineEventSchema } from '../schedule.ts';

/** The client knows it is offline: every request fails at once until the period ends. */
export const offline: FaultModule<z.infer<typeof offlineEventSchema>> = {
  kind: 'offline',
  rate: 'offline',
  generate: (rng, t, client) => ({ t, kind: 'offline', client, durationMs: rng.int(200, 6_000) }),
  async apply(world, e) {
    const c = world.client(e.client);
    c.offlineUntil = Math.max(c.offlineUntil, world.sched.now + e.durationMs);
    world.sched.record(c.name, 'offline', `${e.durationMs} ms`);
  },
};

export function isOffline(world: { sched: { now: number } }, c: { offlineUntil: number }): boolean {
  return world.sched.now < c.offlineUntil;
}
