import { z } from 'zod';
import type { FaultModule } from './types.ts';

export const offlineEventSchema = z.object({ t: z.number().nonnegative(), kind: z.literal('offline'), client: z.number().int().nonnegative(), durationMs: z.number().int().positive() });

/** The client knows it is offline: every request fails at once until the period ends. */
export const offline: FaultModule<typeof offlineEventSchema> = {
  kind: 'offline',
  rate: 'offline',
  rates: { flaky: 0.01, 'offline-heavy': 0.06, crashy: 0, chaos: 0.03, swarmMax: 0.08 },
  schema: offlineEventSchema,
  generate: (rng, t, client) => ({ t, kind: 'offline', client, durationMs: rng.int(200, 6_000) }),
  arbitrary: (f, t, client) => f.record({ t, kind: f.constant('offline' as const), client, durationMs: f.integer({ min: 1, max: 5000 }) }),
  async apply(world, e) {
    const c = world.client(e.client);
    c.offlineUntil = Math.max(c.offlineUntil, world.sched.now + e.durationMs);
    world.sched.record(c.name, 'offline', `${e.durationMs} ms`);
  },
  async heal(_world, c) {
    c.offlineUntil = 0;
  },
  smaller: (e) => (e.durationMs > 1 ? { ...e, durationMs: Math.floor(e.durationMs / 2) } : undefined),
  report: { traceKinds: ['offline', 'push-offline', 'pull-offline'], colour: '#999', legend: 'offline', period: 'rgba(150,150,150,0.25)' },
};

export function isOffline(world: { sched: { now: number } }, c: { offlineUntil: number }): boolean {
  return world.sched.now < c.offlineUntil;
}
