import { z } from 'zod';
import type { FaultModule } from './types.ts';
import { untilServerMoment } from '../sim-server.ts';

export const serverCrashEventSchema = z.object({ t: z.number().nonnegative(), kind: z.literal('server-crash'), downMs: z.number().int().nonnegative() });

/**
 * The server process dies: requests in flight are killed (their open transactions roll back, and
 * any transaction left open on the shared session is aborted), new requests are refused until it
 * restarts on the same data.
 */
export const serverCrash: FaultModule<typeof serverCrashEventSchema> = {
  kind: 'server-crash',
  rate: 'serverCrash',
  rates: { flaky: 0, 'offline-heavy': 0, crashy: 0.01, chaos: 0.008, swarmMax: 0.015 },
  schema: serverCrashEventSchema,
  generate: (rng, t) => ({ t, kind: 'server-crash', downMs: rng.int(100, 3_000) }),
  arbitrary: (f, t) => f.record({ t, kind: f.constant('server-crash' as const), downMs: f.integer({ min: 0, max: 2000 }) }),
  async apply(world, e) {
    if (!world.server.up) return;
    // wide.crashInCompaction: the crash waits (up to two periods) for the schedule's next compaction and lands in it.
    const schedule = world.config.serverProcess?.compaction;
    const wide = world.config.wide;
    if (wide?.crashInCompaction && schedule) {
      const began = await untilServerMoment(world, 'compaction', 2 * schedule.everyMs);
      world.sched.record('server', 'crash-aimed', began ? 'a scheduled compaction began' : 'no scheduled compaction began');
      if (!world.server.up) return;
    } else if (wide?.crashInFallback && wide.refusedLabelRate) {
      // wide.crashInFallback: the crash waits (up to 10 s) for a push the database refused and lands in its one-by-one retry.
      const began = await untilServerMoment(world, 'fallback', 10_000);
      world.sched.record('server', 'crash-aimed', began ? 'a one-by-one fallback began' : 'no one-by-one fallback began');
      if (!world.server.up) return;
    }
    world.server.up = false;
    world.server.incarnation++;
    const killed = world.sched.kill('server');
    world.sched.record('server', 'crash', `${killed} requests killed, down ${e.downMs} ms`);
    // A dead process's session aborts whatever transaction it had open (a no-op for correct code).
    await world.server.db.exec('ROLLBACK');
    await world.sched.sleep(e.downMs);
    await world.reopenServer();
    world.server.up = true;
    world.sched.record('server', 'restart');
  },
  async healServer(world) {
    if (!world.server.up) {
      await world.reopenServer();
      world.server.up = true;
    }
  },
  smaller: (e) => (e.downMs > 0 ? { ...e, downMs: Math.floor(e.downMs / 2) } : undefined),
  report: { traceKinds: ['refused', 'error'], colour: '#b5179e', legend: 'server crash / refused' },
};
