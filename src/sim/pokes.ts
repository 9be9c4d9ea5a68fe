import { isOffline } from './faults/offline.ts';
import { isPartitioned } from './faults/partition.ts';
import { drop, latency } from './faults/network-faults.ts';
import type { SimClient, World } from './world-types.ts';

/**
 * A server poke (the /api/poke event after a push that committed something) on its way to one
 * client over the simulated network: it may be dropped or delayed (reordered) like a request, and
 * an offline, partitioned or crashed client does not get it. Delivered, it asks the client's
 * sync loop for a sync soon (engine.requestSync), which is all a poke does in production.
 */
export function sendPoke(world: World, from: SimClient | undefined, to: SimClient): void {
  const { sched } = world;
  const net = world.network;
  const n = ++to.pokes;
  // Its own stream per recipient and poke number, so a poke's fate does not shift request fates.
  const rng = world.netRng.fork(`${to.name}/poke${n}`);
  const fate = { drop: drop(rng, net), there: latency(rng, net) };
  const label = `poke#${n}${from ? ` from ${from.name}` : ''}`;
  const incarnation = to.incarnation;
  // Owned by the recipient: its crash closes the poke stream, and the poke with it.
  sched.spawn(to.name, 'poke', async () => {
    await sched.sleep(fate.there);
    const lost = fate.drop || isOffline(world, to) || isPartitioned(world, to) || !to.engine || to.incarnation !== incarnation;
    if (lost) {
      if (fate.drop) world.countFault('poke-drop');
      sched.record(to.name, 'poke-lost', label);
      return;
    }
    sched.record(to.name, 'poke', label);
    to.engine!.requestSync();
  });
}
