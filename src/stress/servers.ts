import { PGliteDb } from '../db/pglite.ts';
import { PostgresDb } from '../db/postgres.ts';
import type { Db } from '../db/types.ts';
import { systemClock } from '../seams/index.ts';
import { createSyncServer, handlePull, handlePush, ServerDatabase } from '../server/index.ts';
import type { LocalHandlers } from '../server/local-transport.ts';
import type { BugVariant } from '../sim/bugs/index.ts';

/** What the stress run needs of a server instance (a SyncServer is one). */
export type FleetServer = LocalHandlers & { database: ServerDatabase; close(): Promise<void> };

/** The real server (createSyncServer), or a planted-bug ServerDatabase behind the same handlers. */
async function openServer(db: Db, bug: BugVariant | undefined): Promise<FleetServer> {
  if (!bug?.Server) return createSyncServer({ db });
  const database = await (bug.Server as unknown as typeof ServerDatabase).open(db, { clock: systemClock });
  return { database, handlePush: (b) => handlePush(database, b), handlePull: (b) => handlePull(database, b), close: () => db.close() };
}

export interface ServerFleet {
  servers: FleetServer[];
  describe: string;
  close(): Promise<void>;
}

/**
 * Several sync server instances over one store. PostgreSQL: a fresh database on the cluster of
 * LOCKSTEP_PG_URL, and one pg pool and ServerDatabase per instance, so their transactions really
 * run at once under PostgreSQL's own locking. PGlite: one embedded database shared by several
 * ServerDatabase objects (PGlite serialises their statements itself).
 */
export async function openFleet(kind: 'postgres' | 'pglite', count: number, poolSize: number, bug?: BugVariant): Promise<ServerFleet> {
  if (kind === 'pglite') {
    const db = await PGliteDb.open();
    const servers: FleetServer[] = [];
    for (let i = 0; i < count; i++) servers.push(await openServer(db, bug));
    return { servers, describe: `${count} ServerDatabase objects over one embedded PGlite`, close: () => db.close() };
  }
  const base = process.env.LOCKSTEP_PG_URL;
  if (!base) throw new Error('--server postgres needs LOCKSTEP_PG_URL (npm run pg:start prints one)');
  const name = `lockstep_stress_${process.pid}_${Date.now().toString(36)}`;
  const admin = new PostgresDb(base, { max: 1 });
  await admin.exec(`CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  const servers: FleetServer[] = [];
  // Opened one after another: concurrent CREATE TABLE IF NOT EXISTS can collide in the catalog.
  for (let i = 0; i < count; i++) servers.push(await openServer(new PostgresDb(url.toString(), { max: poolSize }), bug));
  return {
    servers,
    describe: `${count} server instances, ${poolSize} connections each, on PostgreSQL database ${name}`,
    async close() {
      for (const s of servers) await s.close().catch(() => {});
      await admin.exec(`DROP DATABASE IF EXISTS ${name}`).catch(() => {});
      await admin.close();
    },
  };
}
