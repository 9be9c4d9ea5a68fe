import { z } from 'zod';
import type { FaultModule } from './types.ts';
import { killClient, restartClient } from './client-crash.ts';
import { apiState } from '../sim-api.ts';

export const tokenLossEventSchema = z.object({ t: z.number().nonnegative(), kind: z.literal('token-loss'), client: z.number().int().nonnegative(), downMs: z.number().int().nonnegative() });

/**
 * The client restarts having lost its token (cleared localStorage) but kept its database. Its
 * group stays bound to the old token, so registering again answers 409: as the demo does, the
 * client moves to a new client group and re-queues its pending mutations there (identity.ts).
 */
export const tokenLoss: FaultModule<typeof tokenLossEventSchema> = {
  kind: 'token-loss',
  rate: 'tokenLoss',
  // Off in every profile until the known defect is fixed (a scenario can turn it on).
  rates: { flaky: 0, 'offline-heavy': 0, crashy: 0, chaos: 0, swarmMax: 0 },
  knownDefect: 'a pending mutation the server applied but whose answer was lost is re-queued in the new group and applied twice (the client has no token to ask which landed)',
  schema: tokenLossEventSchema,
  generate: (rng, t, client) => ({ t, kind: 'token-loss', client, downMs: rng.int(0, 2_000) }),
  arbitrary: (f, t, client) => f.record({ t, kind: f.constant('token-loss' as const), client, downMs: f.integer({ min: 0, max: 2000 }) }),
  async apply(world, e) {
    const c = world.client(e.client);
    if (!c.engine) return; // already down
    apiState(world).kept.delete(c.engine.clientGroupID);
    killClient(world, c);
    world.sched.record(c.name, 'token-loss', `down ${e.downMs} ms`);
    const incarnation = c.incarnation;
    world.sched.spawn(c.name, 'restart', async () => {
      if (await restartClient(world, c, incarnation)) world.sched.record(c.name, 'restart', c.clientID ?? undefined);
    }, e.downMs);
  },
  smaller: (e) => (e.downMs > 0 ? { ...e, downMs: Math.floor(e.downMs / 2) } : undefined),
  report: { traceKinds: ['token-loss', 'token-lost', 'moved-group'], colour: '#b5179e', legend: 'token lost / moved group' },
};
