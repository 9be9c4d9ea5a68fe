/**
 * `lockstep/server`: the sync server (createSyncServer over PGlite or PostgreSQL), its push and
 * pull handlers, and localTransport for an engine in the same process (tests, simulations).
 */
export * from '../server/index.ts';
export { PGliteDb, PostgresDb } from '../db/index.ts';
export type { Db, Queryable, TransactionOptions } from '../db/types.ts';
export { defineMutator, type MutatorRegistry } from '../protocol/index.ts';
