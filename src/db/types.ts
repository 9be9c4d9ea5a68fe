/**
 * The one small seam between Lockstep and a SQL database. Drivers: PGlite (embedded, browser or
 * Node) and pg (PostgreSQL). The simulator wraps a Db to yield to its scheduler before every
 * statement. Rows come back with jsonb parsed and int8 as a JS number on every driver.
 */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  /** Several statements, no parameters (DDL). */
  exec(sql: string): Promise<void>;
}

export interface TransactionOptions {
  /** REPEATABLE READ gives pull one snapshot on PostgreSQL; PGlite's single session is serial anyway. */
  isolation?: 'read committed' | 'repeatable read' | 'serializable';
  readOnly?: boolean;
}

export interface Db extends Queryable {
  readonly dialect: 'pglite' | 'postgres';
  /** Runs fn in one transaction: commit on return, roll back on throw. Never BEGIN by hand. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
  close(): Promise<void>;
}

export function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`unsafe SQL identifier ${JSON.stringify(name)}`);
  return `"${name}"`;
}
