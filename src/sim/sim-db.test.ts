import { describe, expect, it } from 'vitest';
import type { Db } from '../db/types.ts';
import { Rng } from './rng.ts';
import { Scheduler } from './scheduler.ts';
import { SimDb } from './sim-db.ts';

/** A database that answers at once: only the SimDb's virtual time and lock are under test. */
const instant: Db = {
  dialect: 'pglite',
  query: async <T>() => ({ rows: [] as T[] }),
  exec: async () => {},
  transaction: (fn) => fn(instant),
  close: async () => {},
};

/** Client a runs a 20-statement transaction from t=0; client b one statement at t=10. When does each finish? */
async function race(options: { separateDevices?: boolean }): Promise<{ a: number; b: number }> {
  const sched = new Scheduler(new Rng('sim-db'), { maxSteps: 10_000, maxVirtualMs: 1_000_000 });
  const db = new SimDb(instant, sched, 'client-db', 3, undefined, options);
  const done = { a: -1, b: -1 };
  sched.spawn('a', 'transaction', async () => {
    await db.transaction(async (tx) => {
      for (let i = 0; i < 20; i++) await tx.query('SELECT 1');
    });
    // The device's next statement pays for the transaction (no scheduling point between its commit and its return).
    await db.query('SELECT 2');
    done.a = sched.now;
  });
  sched.spawn('b', 'statement', async () => {
    await db.query('SELECT 1');
    done.b = sched.now;
  }, 10);
  await sched.run();
  return done;
}

describe('SimDb', () => {
  // The 1,000-client bench run ended in a liveness failure (84 clients still pending after the
  // 120 s heal): every client's transaction held the one client-db lock across its statements'
  // virtual time, so 1,000 devices queued behind each other as if they were one.
  it('on separate devices, a transaction does not hold up another client in virtual time, and its device pays for it before its next statement', async () => {
    const { a, b } = await race({ separateDevices: true });
    expect(b).toBeLessThanOrEqual(13); // its own start and statement time only
    expect(a).toBeGreaterThan(b); // 20 statements of 0..3 ms each, after the lock is free
    expect(a).toBeGreaterThanOrEqual(20);
  });

  it('on one shared database (the server), a transaction holds the others until it ends', async () => {
    const { a, b } = await race({});
    expect(b).toBeGreaterThanOrEqual(a);
  });
});
