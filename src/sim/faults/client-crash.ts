import { z } from 'zod';
import type { FaultModule } from './types.ts';
import type { SimClient, World } from '../world-types.ts';
import type { PersistentSyncEngine } from '../../engine/index.ts';
import { crashEngine } from '../../engine/simulation.ts';

export const crashEventSchema = z.object({
  t: z.number().nonnegative(),
  kind: z.literal('crash'),
  client: z.number().int().nonnegative(),
  downMs: z.number().int().nonnegative(),
  /** A reload rather than a crash: the app closes the engine (close() lets the sync in progress finish), then the tab is gone and reopens. */
  graceful: z.literal(true).optional(),
});

/** Every engine a client slot opened (a group move has two at once): a crash takes all their memory. */
const enginesOf = new WeakMap<SimClient, Set<PersistentSyncEngine>>();
export function trackEngine(c: SimClient, engine: PersistentSyncEngine): void {
  let set = enginesOf.get(c);
  if (!set) enginesOf.set(c, (set = new Set()));
  set.add(engine);
}

/**
 * Kills a client's tasks (open transactions roll back) and forgets its in-memory state: a
 * deferred-mode engine's unflushed writes are lost (never acknowledged: see deferred-writes.ts),
 * and no engine of the dead page writes again (stopLoops' stop() would flush them otherwise).
 */
export function killClient(world: World, c: SimClient): void {
  for (const engine of enginesOf.get(c) ?? []) {
    const lost = crashEngine(engine);
    if (lost.length === 0) continue;
    world.sched.record(c.name, 'lost-unflushed', `${lost.length}: ${lost[0]!.clientID} #${lost[0]!.id}..${lost[lost.length - 1]!.id}`);
    world.countFault('lost-unflushed', lost.length);
  }
  enginesOf.delete(c);
  world.sched.kill(c.name);
  c.engine = null;
  c.incarnation++;
}

/**
 * Brings a crashed client back (its restart task, or the heal): one engine per incarnation. The
 * restart and the heal may both find the client down; opening takes virtual time, so without the
 * lock both would open an engine, and the one overwritten would sync on forever unowned.
 */
export async function restartClient(world: World, c: SimClient, incarnation = c.incarnation): Promise<boolean> {
  const lock = `open ${c.name}`;
  await world.sched.lock(lock);
  try {
    if (c.engine || c.incarnation !== incarnation) return false;
    c.engine = await world.openEngine(c);
    return true;
  } finally {
    world.sched.unlock(lock);
  }
}

/**
 * A client crash at any point: in-flight requests and in-memory state are gone; after the
 * downtime it restarts from what its PGlite committed (same schema, same identity).
 */
export const clientCrash: FaultModule<typeof crashEventSchema> = {
  kind: 'crash',
  rate: 'clientCrash',
  rates: { flaky: 0, 'offline-heavy': 0, crashy: 0.03, chaos: 0.02, swarmMax: 0.04 },
  schema: crashEventSchema,
  // graceful from a stream of its own (a fork does not advance `rng`): the schedule's other draws stay as they were.
  generate: (rng, t, client) => ({ t, kind: 'crash', client, downMs: rng.int(0, 3_000), ...(rng.fork(`graceful|${t}|${client}`).chance(0.3) ? { graceful: true as const } : {}) }),
  arbitrary: (f, t, client) => f.record({ t, kind: f.constant('crash' as const), client, downMs: f.integer({ min: 0, max: 2000 }), graceful: f.constantFrom(true as const, undefined) }, { requiredKeys: ['t', 'kind', 'client', 'downMs'] }),
  async apply(world, e) {
    const c = world.client(e.client);
    if (!c.engine) return; // already down
    if (e.graceful) {
      // The engine's own close(): the loop stops once its run in progress ends (its wait is
      // aborted). Then the page goes away: what is still running dies with it, as in a crash.
      // Under the client's open lock, so that the heal's restart waits for the close to end.
      const engine = c.engine;
      const incarnation = c.incarnation;
      const lock = `open ${c.name}`;
      await world.sched.lock(lock);
      try {
        if (c.engine !== engine || c.incarnation !== incarnation) return; // crashed or replaced meanwhile
        // The page is closing: the app starts no more work on this engine (a write to a closed
        // engine is refused, seeds 31 and 42 of the first sweep).
        c.engine = null;
        // A deferred-mode engine's close() stores its unflushed writes first: done here, awaited in
        // this task (statements run from the bare close() below would park a task not waiting on them).
        await engine.flush();
        // close() runs as a task of the client's lane, awaited through a scheduler future: a task
        // awaiting a plain promise would never park (the run would stall, as seed 187 did), and a
        // bare close() parked whichever task was running when it waited (this one, or none: swarm
        // seed 154, "park outside a scheduler task"). A kill of the client meanwhile (a wipe) ends
        // it too; an error out of close() is the run's finding.
        const closed = world.sched.future<void>();
        world.sched.spawn(c.name, 'close', async () => {
          try {
            await engine.close();
          } finally {
            closed.resolve();
          }
        });
        const tick = new Error('tick');
        while (!closed.settled) await world.sched.waitFor(closed, 1_000, () => tick).catch((err: unknown) => {
          if (err !== tick) throw err;
        });
        if (c.incarnation !== incarnation) return; // wiped meanwhile: that fault brought it back
        killClient(world, c);
      } finally {
        world.sched.unlock(lock);
      }
      world.countFault('close');
      world.sched.record(c.name, 'close', `down ${e.downMs} ms`);
    } else {
      killClient(world, c);
      world.sched.record(c.name, 'crash', `down ${e.downMs} ms`);
    }
    const incarnation = c.incarnation;
    world.sched.spawn(c.name, 'restart', async () => {
      if (await restartClient(world, c, incarnation)) world.sched.record(c.name, 'restart', c.clientID ?? undefined);
    }, e.downMs);
  },
  /** Every client is up for the quiet phase (a wiped one too: the same restart). */
  async heal(world, c) {
    await restartClient(world, c);
  },
  smaller: (e) => (e.downMs > 0 ? { ...e, downMs: Math.floor(e.downMs / 2) } : undefined),
  report: { traceKinds: ['crash', 'close', 'restart'], colour: '#b5179e', legend: 'crash / close / restart' },
};
