import { z } from 'zod';
import type { FaultModule } from './types.ts';

export const skewEventSchema = z.object({ t: z.number().nonnegative(), kind: z.literal('skew'), client: z.number().int().nonnegative(), offsetMs: z.number().int() });

/**
 * Steps a client's wall clock, forwards or backwards (an NTP correction, a wrong RTC). Only
 * timestamps change: nothing correct may depend on them. (A skew stays through heal.)
 */
export const clockSkew: FaultModule<typeof skewEventSchema> = {
  kind: 'skew',
  rate: 'clockSkew',
  rates: { flaky: 0, 'offline-heavy': 0, crashy: 0, chaos: 0.02, swarmMax: 0.04 },
  schema: skewEventSchema,
  generate: (rng, t, client) => ({ t, kind: 'skew', client, offsetMs: rng.int(-120_000, 120_000) }),
  arbitrary: (f, t, client) => f.record({ t, kind: f.constant('skew' as const), client, offsetMs: f.integer({ min: -60_000, max: 60_000 }) }),
  async apply(world, e) {
    const c = world.client(e.client);
    c.clockOffsetMs = e.offsetMs;
    world.sched.record(c.name, 'skew', `${e.offsetMs} ms`);
  },
  smaller: (e) => (e.offsetMs !== 0 ? { ...e, offsetMs: Math.trunc(e.offsetMs / 2) } : undefined),
  report: { traceKinds: ['skew'], colour: '#999', legend: 'clock skew' },
};
