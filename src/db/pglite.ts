import { PGlite } from '@electric-sql/pglite';
import type { Db, Queryable, TransactionOptions } from './types.ts';
import { checkFileGrowthStep, tuneFileGrowth } from './pglite-file-growth.ts';

function wrap(q: { query: PGlite['query']; exec: PGlite['exec'] }): Queryable {
  return {
    async query<T>(sql: string, params?: unknown[]) {
      const r = await q.query<T>(sql, params as any[]);
      return { rows: r.rows };
    },
    async exec(sql: string) {
      await q.exec(sql);
    },
  };
}

/** A Db over one PGlite instance. dataDir: undefined or 'memory://' for memory, a path, or 'idb://name' in a browser. */
export class PGliteDb implements Db {
  readonly dialect = 'pglite' as const;
  readonly pg: PGlite;
  private readonly q: Queryable;
  private closed = false;

  constructor(pg: PGlite) {
    this.pg = pg;
    this.q = wrap(pg);
  }

  /** fileGrowthStepBytes: how much a large file grows at most at once (see pglite-file-growth.ts). */
  static async open(dataDir?: string, options: { fileGrowthStepBytes?: number } = {}): Promise<PGliteDb> {
    const step = checkFileGrowthStep(options.fileGrowthStepBytes);
    const pg = dataDir && dataDir !== 'memory' ? new PGlite(dataDir) : new PGlite();
    await pg.waitReady;
    tuneFileGrowth(pg, step);
    return new PGliteDb(pg);
  }

  query<T = Record<string, unknown>>(sql: string, params?: unknown[]) {
    return this.q.query<T>(sql, params);
  }
  exec(sql: string) {
    return this.q.exec(sql);
  }
  async transaction<T>(fn: (tx: Queryable) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    // PGlite has a single session, so transactions are already serial; isolation is moot here.
    void options;
    return this.pg.transaction((tx) => fn(wrap(tx)));
  }
  async close() {
    if (this.closed) return;
    this.closed = true;
    await this.pg.close();
  }
}
