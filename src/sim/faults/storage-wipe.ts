import { z } from 'zod';
import type { FaultModule } from './types.ts';
import { killClient } from './client-crash.ts';

export const wipeEventSchema = z.object({ t: z.number().nonnegative(), kind: z.literal('wipe'), client: z.number().int().nonnegative() });

/**
 * The client loses its whole database (cleared site data) and comes back as a new client with a
 * new identity. Its unpushed mutations are lost on purpose; the no-lost-write checker knows.
 */
export const storageWipe: FaultModule<typeof wipeEventSchema> = {
  kind: 'wipe',
  rate: 'storageWipe',
  rates: { flaky: 0, 'offline-heavy': 0, crashy: 0.004, chaos: 0.003, swarmMax: 0.006 },
  schema: wipeEventSchema,
  generate: (_rng, t, client) => ({ t, kind: 'wipe', client }),
  arbitrary: (f, t, client) => f.record({ t, kind: f.constant('wipe' as const), client }),
  async apply(world, e) {
    const c = world.client(e.client);
    // Cleared site data takes every client of the slot: the current engine's, and during a move to
    // a new group also the new one's (opened already, so c.clientID names it). Only the newest
    // store is dropped: a move still under way reads the old one (it goes on to a dead end).
    const ids = [...new Set([c.engine?.clientID, c.clientID].filter((x): x is string => Boolean(x)))];
    for (const id of ids) world.wipedClientIDs.add(id);
    killClient(world, c);
    world.sched.record(c.name, 'wipe', ids.join(', ') || undefined);
    await world.clientDb.exec(`DROP SCHEMA IF EXISTS "${c.schema}" CASCADE`);
    c.generation++;
    c.engine = await world.openEngine(c);
    world.sched.record(c.name, 'restart', `new identity ${c.clientID}`);
  },
  report: { traceKinds: ['wipe'], colour: '#b5179e', legend: 'storage wipe' },
};
