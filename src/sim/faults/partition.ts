import { z } from 'zod';
import type { FaultModule } from './types.ts';

export const partitionEventSchema = z.object({ t: z.number().nonnegative(), kind: z.literal('partition'), client: z.number().int().nonnegative(), durationMs: z.number().int().positive() });

/** The client thinks it is online, but nothing gets through: requests hang until they time out. */
export const partition: FaultModule<typeof partitionEventSchema> = {
  kind: 'partition',
  rate: 'partition',
  rates: { flaky: 0.01, 'offline-heavy': 0.02, crashy: 0, chaos: 0.015, swarmMax: 0.03 },
  schema: partitionEventSchema,
  generate: (rng, t, client) => ({ t, kind: 'partition', client, durationMs: rng.int(500, 8_000) }),
  arbitrary: (f, t, client) => f.record({ t, kind: f.constant('partition' as const), client, durationMs: f.integer({ min: 1, max: 5000 }) }),
  async apply(world, e) {
    const c = world.client(e.client);
    c.partitionedUntil = Math.max(c.partitionedUntil, world.sched.now + e.durationMs);
    world.sched.record(c.name, 'partition', `${e.durationMs} ms`);
  },
  async heal(_world, c) {
    c.partitionedUntil = 0;
  },
  smaller: (e) => (e.durationMs > 1 ? { ...e, durationMs: Math.floor(e.durationMs / 2) } : undefined),
  report: { traceKinds: ['partition', 'partitioned'], colour: '#e07b00', legend: 'partition', period: 'rgba(224,123,0,0.18)' },
};

export function isPartitioned(world: { sched: { now: number } }, c: { partitionedUntil: number }): boolean {
  return world.sched.now < c.partitionedUntil;
}
