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
   * Each caller stands for its own device's database (the clients: one shared PGlite only
   * because 1,000 instances do not fit in memory). The lock still serialises the real session,
   * but a transaction's statements take their virtual time after it is released: held across
   * them, one client's transaction stalled every other client's local statements, and at 1,000
   * clients the shared lock was busier than virtual time itself (the bench's liveness failure).
   */
  private readonly separateDevices: boolean;

  /**
   * Each statement takes 0..maxStatementMs of virtual time (a real database is not instant), so
   * that requests overlap in virtual time and their statements interleave. The duration is drawn
   * from the running task's own random stream.
   */
  constructor(inner: Db, sched: Scheduler, lockName: string, maxStatementMs: number, stats: DbStats = { statements: 0 }, options: { separateDevices?: boolean } = {}) {
    this.inner = inner;
    this.separateDevices = options.separateDevices ?? false;
    this.maxStatementMs = maxStatementMs;
    this.dialect = inner.dialect;
    this.sched = sched;
    this.lockName = lockName;
    this.stats = stats;
  }

  /**
   * Virtual time a separate device still owes for its last transaction, per task owner (a client's
   * lane). Paid before that device's next statement, not right after the commit: a sleep between a
   * committed transaction and its caller's return let a crash land there, so a write committed on
   * the device while the world never recorded it (swarm seed 31, 2 clients: counters).
   */
  private readonly debt = new Map<string, number>();

  /** The scheduling point before a statement: it takes some virtual time, and others may run. */
  private pause(): Promise<void> {
    let ms = this.statementMs();
    if (this.separateDevices && this.debt.size > 0) {
      const owner = this.sched.taskOwner();
      ms += this.debt.get(owner) ?? 0;
      this.debt.delete(owner);
    }
    return this.sched.sleep(ms);
  }

  /** A statement's virtual duration, from the running task's own stream. */
  private statementMs(): number {
    return this.maxStatementMs > 0 ? this.sched.taskRng().int(0, this.maxStatementMs) : 0;
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
    const owed = { ms: 0 };
    let result: T;
    try {
      this.stats.statements += 2; // BEGIN, COMMIT/ROLLBACK
      result = await this.inner.transaction((tx) => fn(this.wrapTx(tx, owed)), options);
    } finally {
      this.sched.unlock(this.lockName);
    }
    // A separate device's transaction took this long on its own device: that device's next statement waits, nobody else.
    if (owed.ms > 0) {
      const owner = this.sched.taskOwner();
      this.debt.set(owner, (this.debt.get(owner) ?? 0) + owed.ms);
    }
    return result;
  }

  /** Inside a transaction: each statement is a scheduling point; on separate devices its time is owed until the end. */
  private wrapTx(tx: Queryable, owed: { ms: number }): Queryable {
    const step = (): Promise<void> => {
      if (!this.separateDevices) return this.pause();
      owed.ms += this.statementMs();
      return this.sched.yield();
    };
    return {
      query: async <T>(sql: string, params?: unknown[]) => {
        await step();
        this.stats.statements++;
        return tx.query<T>(sql, params);
      },
      exec: async (sql: string) => {
        await step();
        this.stats.statements++;
        return tx.exec(sql);
      },
    };
  }

  /** The simulator owns the real database's lifetime; a simulated crash never closes it. */
  async close(): Promise<void> {}
}
