import { z } from 'zod';
import type { FaultModule } from './types.ts';
import { apiState, simApi } from '../sim-api.ts';
import { untilServerMoment } from '../sim-server.ts';

export const serverRestartEventSchema = z.object({ t: z.number().nonnegative(), kind: z.literal('server-restart'), drainMs: z.number().int().nonnegative(), downMs: z.number().int().nonnegative() });

/**
 * A deploy: the server process gets SIGTERM and drains as production's does (SyncApi.shutdown):
 * new requests are answered 503 ShuttingDown, the poke streams end, requests in flight finish,
 * then the server closes (its compaction schedule stops). After `drainMs` the process is gone
 * (connections refused) and a new one starts `downMs` later. A load balancer's health probe
 * (/api/health) says when the new process may take traffic. The drain's 503s are this fault's,
 * not a defect (the no-5xx checker is told through the network's answers).
 */
export const serverRestart: FaultModule<typeof serverRestartEventSchema> = {
  kind: 'server-restart',
  rate: 'serverRestart',
  rates: { flaky: 0, 'offline-heavy': 0, crashy: 0.005, chaos: 0.004, swarmMax: 0.01 },
  schema: serverRestartEventSchema,
  generate: (rng, t) => ({ t, kind: 'server-restart', drainMs: rng.int(0, 500), downMs: rng.int(0, 2_000) }),
  arbitrary: (f, t) => f.record({ t, kind: f.constant('server-restart' as const), drainMs: f.integer({ min: 0, max: 500 }), downMs: f.integer({ min: 0, max: 2000 }) }),
  async apply(world, e) {
    if (!world.server.up) return;
    const { sched } = world;
    // wide.crashInCompaction: the deploy, too, waits (up to two periods) for the schedule's next compaction and lands in it.
    const schedule = world.config.serverProcess?.compaction;
    if (world.config.wide?.crashInCompaction && schedule) {
      const began = await untilServerMoment(world, 'compaction', 2 * schedule.everyMs);
      sched.record('server', 'restart-aimed', began ? 'a scheduled compaction began' : 'no scheduled compaction began');
      if (!world.server.up) return;
    }
    const api = await simApi(world);
    const state = apiState(world);
    const incarnation = world.server.incarnation;
    state.draining = true;
    // stopAccepting resolves when the drain window is over; shutdown then waits for what is still
    // in flight and closes. Not awaited: its waits are on requests of other tasks.
    let stopAccepting!: () => void;
    const listenerClosed = new Promise<void>((r) => (stopAccepting = r));
    void api.shutdown(() => listenerClosed);
    sched.record('server', 'drain', `${api.requestsInFlight} requests in flight`);
    // wide.shortDrainMs: a grace period shorter than the requests (production's drain timeout cuts
    // the connections while handlers still run): shutdown then waits for them before closing.
    const short = world.config.wide?.shortDrainMs;
    await sched.sleep(short !== undefined ? Math.min(short, e.drainMs) : e.drainMs);
    // wide.secondSignal: a second SIGTERM (or a Ctrl-C) during the drain; it must join the first.
    if (world.config.wide?.secondSignal && world.server.incarnation === incarnation) void api.shutdown(() => listenerClosed);
    if (!world.server.up || world.server.incarnation !== incarnation) {
      // Another fault took this process down meanwhile (and restarted it): nothing left to stop.
      stopAccepting();
      return;
    }
    // The process exits: whatever is still in flight is cut off.
    world.server.up = false;
    world.server.incarnation++;
    const killed = sched.kill('server');
    stopAccepting();
    sched.record('server', 'exit', `${killed} tasks cut off, down ${e.downMs} ms`);
    await world.server.db.exec('ROLLBACK');
    await sched.sleep(e.downMs);
    await world.reopenServer();
    // The load balancer's readiness probe: traffic returns once /api/health answers 200.
    const health = await (await simApi(world)).health();
    sched.record('server', 'restart', `health ${health.status}`);
    world.server.up = true;
  },
  async healServer(world) {
    if (!world.server.up) {
      await world.reopenServer();
      world.server.up = true;
    }
  },
  smaller: (e) => (e.downMs > 0 || e.drainMs > 0 ? { ...e, drainMs: Math.floor(e.drainMs / 2), downMs: Math.floor(e.downMs / 2) } : undefined),
  report: { traceKinds: ['drain', 'exit'], colour: '#7209b7', legend: 'server restart (drain)' },
};
