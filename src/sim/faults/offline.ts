import { z } from 'zod';
import type { FaultModule } from './types.ts';

export const offlineEventSchema = z.object({
  t: z.number().nonnegative(),
  kind: z.literal('offline'),
  client: z.number().int().nonnegative(),
  durationMs: z.number().int().positive(),
  /** The app saw the connection go (navigator.onLine, a failed probe) and told the engine: setOnline(false), then true. */
  appKnows: z.literal(true).optional(),
});

/**
 * The client is offline: every request fails at once until the period ends. In about half the
 * events the app knows it and drives the engine's own setOnline (its loop then skips its runs and
 * a return online pokes it), as production apps do; otherwise the engine finds out from failures.
 */
export const offline: FaultModule<typeof offlineEventSchema> = {
  kind: 'offline',
  rate: 'offline',
  rates: { flaky: 0.01, 'offline-heavy': 0.06, crashy: 0, chaos: 0.03, swarmMax: 0.08 },
  schema: offlineEventSchema,
  // appKnows from a stream of its own (a fork does not advance `rng`): the schedule's other draws stay as they were.
  generate: (rng, t, client) => ({ t, kind: 'offline', client, durationMs: rng.int(200, 6_000), ...(rng.fork(`app-knows|${t}|${client}`).chance(0.5) ? { appKnows: true as const } : {}) }),
  arbitrary: (f, t, client) => f.record({ t, kind: f.constant('offline' as const), client, durationMs: f.integer({ min: 1, max: 5000 }), appKnows: f.constantFrom(true as const, undefined) }, { requiredKeys: ['t', 'kind', 'client', 'durationMs'] }),
  async apply(world, e) {
    const c = world.client(e.client);
    c.offlineUntil = Math.max(c.offlineUntil, world.sched.now + e.durationMs);
    world.sched.record(c.name, 'offline', `${e.durationMs} ms${e.appKnows ? ', app knows' : ''}`);
    const engine = c.engine;
    if (!e.appKnows || !engine) return;
    world.countFault('offline-app-knows');
    await engine.setOnline(false);
    world.sched.spawn(c.name, 'back-online', async () => {
      // A later event may have extended the period; this engine may be gone (a crash, a wipe, a group move).
      while (world.sched.now < c.offlineUntil) await world.sched.sleep(c.offlineUntil - world.sched.now);
      if (c.engine !== engine || (await engine.getState()).online) return;
      world.sched.record(c.name, 'online');
      await engine.setOnline(true);
    }, e.durationMs);
  },
  async heal(_world, c) {
    c.offlineUntil = 0;
    if (c.engine && !(await c.engine.getState()).online) await c.engine.setOnline(true);
  },
  smaller: (e) => (e.durationMs > 1 ? { ...e, durationMs: Math.floor(e.durationMs / 2) } : undefined),
  report: { traceKinds: ['offline', 'push-offline', 'pull-offline', 'online'], colour: '#999', legend: 'offline', period: 'rgba(150,150,150,0.25)' },
};

export function isOffline(world: { sched: { now: number } }, c: { offlineUntil: number }): boolean {
  return world.sched.now < c.offlineUntil;
}
