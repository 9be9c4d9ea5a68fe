import { quietNetwork } from '../config.ts';
import type { SimWorld } from '../world.ts';
import type { Simulation } from './types.ts';

/**
 * A simulation's setup: the first client runs the operations, then every client syncs, on a
 * network without faults or latency, inside the world's setup (no virtual time passes), so that
 * the schedule starts from the same state whatever it is shrunk to.
 */
export async function runSetup(world: SimWorld, sim: Simulation): Promise<void> {
  if (!sim.setup?.length) return;
  const first = world.clients[0]!;
  const saved = world.network;
  world.network = { ...quietNetwork, latencyMs: [0, 0] };
  try {
    for (const op of sim.setup) await world.mutate(first, () => first.engine!.mutate(op.name, op.args));
    // Before the loops start: the engine's own sync (push, then pull until caught up).
    for (const c of world.clients) {
      try {
        await c.engine!.sync();
      } catch (e) {
        throw new Error(`simulation ${sim.name}: setup sync of ${c.name} failed: ${(e as Error).message}`);
      }
    }
  } finally {
    world.network = saved;
  }
}
