import pg from 'pg';
import type { Db, Queryable, TransactionOptions } from './types.ts';

// int8 (versions, counters) as a JS number, like PGlite; our values stay far below 2^53.
const types = {
  getTypeParser(oid: number, format?: any) {
    if (oid === 20) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
};

function wrap(c: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<T>(sql: string, params?: unknown[]) {
      const r = await c.query(sql, params as any[]);
      return { rows: r.rows as T[] };
    },
    async exec(sql: string) {
      await c.query(sql);
    },
  };
}

/** A Db over a pg.Pool on real PostgreSQL. */
export class PostgresDb implements Db {
  readonly dialect = 'postgres' as const;
  readonly pool: pg.Pool;
  private readonly q: Queryable;
  private closed = false;

  constructor(connectionString: string, options: { max?: number } = {}) {
    this.pool = new pg.Pool({ connectionString, max: options.max ?? 8, types });
    // An idle client's error (server restart) must not crash the process; the next query reconnects.
    this.pool.on('error', () => {});
    this.q = wrap(this.pool);
  }

  query<T = Record<string, unknown>>(sql: string, params?: unknown[]) {
    return this.q.query<T>(sql, params);
  }
  exec(sql: string) {
    return this.q.exec(sql);
  }
  async transaction<T>(fn: (tx: Queryable) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const client = await this.pool.connect();
    try {
      const iso = options.isolation ? ` ISOLATION LEVEL ${options.isolation.toUpperCase()}` : '';
      await client.query(`BEGIN${iso}${options.readOnly ? ' READ ONLY' : ''}`);
      try {
        const result = await fn(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {});
        throw e;
      }
    } finally {
      client.release();
    }
  }
  async close() {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
