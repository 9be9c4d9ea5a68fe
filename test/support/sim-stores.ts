import { afterAll, beforeAll } from 'vitest';
import { openSimPglite } from '../../src/sim/sim-db-pglite.ts';
import type { Stores } from '../../src/sim/world.ts';

/** One server and one client PGlite for a test file's simulations (each run takes its own schemas). */
export function useSimStores(): () => Stores {
  let stores: Stores | undefined;
  beforeAll(async () => {
    stores = { server: await openSimPglite(), clients: await openSimPglite() };
  });
  afterAll(async () => {
    await stores?.server.close();
    await stores?.clients.close();
  });
  return () => stores!;
}
