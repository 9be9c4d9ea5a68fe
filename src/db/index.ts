export * from './types.ts';
export { PGliteDb } from './pglite.ts';
export { PostgresDb } from './postgres.ts';
