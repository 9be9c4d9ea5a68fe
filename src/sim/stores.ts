import { PostgresDb } from '../db/postgres.ts';
import { openSimPglite } from './sim-db-pglite.ts';
import { UsageError } from './scenario.ts';
import type { Stores } from './world.ts';

/**
 * Real databases for a sweep, opened once: PGlite boots in ~2 s, so seeds share instances and
 * each run takes its own schemas (dropped after the run).
 */
export async function openStores(server: 'pglite' | 'postgres'): Promise<Stores & { close(): Promise<void> }> {
  let serverDb;
  if (server === 'postgres') {
    const url = process.env.LOCKSTEP_PG_URL;
    if (!url) throw new UsageError('--server postgres needs LOCKSTEP_PG_URL (npm run pg:start prints one)');
    // One connection: the simulator serialises server transactions through its own lock anyway.
    serverDb = new PostgresDb(url, { max: 1 });
  } else serverDb = await openSimPglite();
  const clients = await openSimPglite();
  return {
    server: serverDb,
    clients,
    async close() {
      await serverDb.close();
      await clients.close();
    },
  };
}
