import type { FaultModule } from './types.ts';
import type { z } from 'zod';
import type { skewEventSchema } from '../schedule.ts';

/**
 * Steps a client's wall clock, forwards or backwards (an NTP correction, a wrong RTC). Only
 * timestamps change: nothing correct may depend on them.
 */
export const clockSkew: FaultModule<z.infer<typeof skewEventSchema>> = {
  kind: 'skew',
  rate: 'clockSkew',
  generate: (rng, t, client) => ({ t, kind: 'skew', client, offsetMs: rng.int(-120_000, 120_000) }),
  async apply(world, e) {
    const c = world.client(e.client);
    c.clockOffsetMs = e.offsetMs;
    world.sched.record(c.name, 'skew', `${e.offsetMs} ms`);
  },
};
