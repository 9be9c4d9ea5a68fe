import type { FaultModule } from './types.ts';
import type { z } from 'zod';
import type { serverCrashEventSchema } from '../schedule.ts';

/**
 * The server process dies: requests in flight are killed (their open transactions roll back, and
 * any transaction left open on the shared session is aborted), new requests are refused until it
 * restarts on the same data.
 */
export const serverCrash: FaultModule<z.infer<typeof serverCrashEventSchema>> = {
  kind: 'server-crash',
  rate: 'serverCrash',
  generate: (rng, t) => ({ t, kind: 'server-crash', downMs: rng.int(100, 3_000) }),
  async apply(world, e) {
    if (!world.server.up) return;
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
};
