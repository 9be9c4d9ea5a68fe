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

/** PGlite's own start parameters (its defaultStartParams), then the settings as `-c name=value`. */
function withSettings(settings: Readonly<Record<string, string>>): string[] {
  const base = (PGlite as unknown as { defaultStartParams?: string[] }).defaultStartParams;
  if (!base) throw new Error('this PGlite version has no defaultStartParams to add PostgreSQL settings to');
  return [...base, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
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

  /**
   * fileGrowthStepBytes: how much a large file grows at most at once (see pglite-file-growth.ts).
   * settings: PostgreSQL settings the instance starts with (`-c name=value` after PGlite's own
   * start parameters), e.g. a smaller shared_buffers for many short-lived instances.
   */
  static async open(dataDir?: string, options: { fileGrowthStepBytes?: number; settings?: Readonly<Record<string, string>> } = {}): Promise<PGliteDb> {
    const step = checkFileGrowthStep(options.fileGrowthStepBytes);
    const startParams = options.settings ? withSettings(options.settings) : undefined;
    const pg = new PGlite({ ...(dataDir && dataDir !== 'memory' ? { dataDir } : {}), ...(startParams ? { startParams } : {}) });
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
