import type { Db, Queryable, TransactionOptions } from '../db/types.ts';
import type { Scheduler } from './scheduler.ts';

export interface DbStats {
  statements: number;
}

/**
 * The simulator's Db: yields to the scheduler before every statement, so concurrent requests
 * interleave at statement granularity in an order the seed decides, and holds a
 * scheduler-visible lock per database around each transaction and each standalone statement
 * (PGlite has one session: a task waiting on PGlite's own mutex would look "running").
 */
export class SimDb implements Db {
  readonly dialect: Db['dialect'];
  readonly inner: Db;
  private readonly sched: Scheduler;
  readonly lockName: string;
  readonly stats: DbStats;
  /** Mutable so that world setup can take no virtual time (see SimWorld.create). */
  maxStatementMs: number;

  /**
   * Each statement takes 0..maxStatementMs of virtual time (a real database is not instant), so
   * that requests overlap in virtual time and their statements interleave. The duration is drawn
   * from the running task's own random stream.
   */
  constructor(inner: Db, sched: Scheduler, lockName: string, maxStatementMs: number, stats: DbStats = { statements: 0 }) {
    this.inner = inner;
    this.maxStatementMs = maxStatementMs;
    this.dialect = inner.dialect;
    this.sched = sched;
    this.lockName = lockName;
    this.stats = stats;
  }

  /** The scheduling point before a statement: it takes some virtual time, and others may run. */
  private pause(): Promise<void> {
    return this.sched.sleep(this.maxStatementMs > 0 ? this.sched.taskRng().int(0, this.maxStatementMs) : 0);
  }

  private async standalone<T>(run: () => Promise<T>): Promise<T> {
    await this.pause();
    await this.sched.lock(this.lockName);
    try {
      this.stats.statements++;
      return await run();
    } finally {
      this.sched.unlock(this.lockName);
    }
  }

  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[] }> {
    return this.standalone(() => this.inner.query<T>(sql, params));
  }

  exec(sql: string): Promise<void> {
    return this.standalone(() => this.inner.exec(sql));
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T> {
    await this.pause();
    await this.sched.lock(this.lockName);
    try {
      this.stats.statements += 2; // BEGIN, COMMIT/ROLLBACK
      return await this.inner.transaction((tx) => fn(this.wrapTx(tx)), options);
    } finally {
      this.sched.unlock(this.lockName);
    }
  }

  private wrapTx(tx: Queryable): Queryable {
    return {
      query: async <T>(sql: string, params?: unknown[]) => {
        await this.pause();
        this.stats.statements++;
        return tx.query<T>(sql, params);
      },
      exec: async (sql: string) => {
        await this.pause();
        this.stats.statements++;
        return tx.exec(sql);
      },
    };
  }

  /** The simulator owns the real database's lifetime; a simulated crash never closes it. */
  async close(): Promise<void> {}
}
