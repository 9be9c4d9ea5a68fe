import { afterAll, beforeAll } from 'vitest';
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

/** A suite's store of one kind, opened before its tests; `schema()` names a test's own schema. */
export interface SuiteStore {
  readonly db: Db;
  /** A fresh schema name (or the given one), dropped after the suite on PostgreSQL (a PGlite instance just closes). */
  schema(prefix: string, name?: string): string;
}

/** Opens the store before a suite's tests; after them drops the schemas it named (PostgreSQL) and closes it. */
export function useStore(kind: StoreKind): SuiteStore {
  let db: Db | undefined;
  const schemas: string[] = [];
  beforeAll(async () => {
    db = await kind.open();
  });
  afterAll(async () => {
    if (kind.name === 'postgres') for (const s of schemas) await db?.exec(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await db?.close();
  });
  return {
    get db() {
      if (!db) throw new Error(`the ${kind.name} store is opened in beforeAll: use it inside a test`);
      return db;
    },
    schema(prefix, name = uniqueSchema(prefix)) {
      schemas.push(name);
      return name;
    },
  };
}
