import { PGliteDb } from '../../src/db/pglite.ts';
import { PostgresDb } from '../../src/db/postgres.ts';
import type { Db } from '../../src/db/types.ts';

/**
 * The server stores a suite runs against: embedded PGlite always, real PostgreSQL when
 * LOCKSTEP_PG_URL is set. One instance per suite; each test takes its own schema, which is
 * far cheaper than a fresh instance (~2 s for PGlite).
 */
export interface StoreKind {
  name: 'pglite' | 'postgres';
  open(): Promise<Db>;
}

export const storeKinds: StoreKind[] = [
  { name: 'pglite', open: () => PGliteDb.open() },
  ...(process.env.LOCKSTEP_PG_URL ? [{ name: 'postgres' as const, open: async () => new PostgresDb(process.env.LOCKSTEP_PG_URL!) }] : []),
];

let counter = 0;
/** A schema name unique within this process and across concurrent runs on one PostgreSQL. */
export function uniqueSchema(prefix: string): string {
  counter++;
  return `${prefix}_${process.pid}_${counter}`.toLowerCase();
}
