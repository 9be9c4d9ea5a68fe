/**
 * The pg driver on real PostgreSQL. In CI (CI=true) LOCKSTEP_PG_URL must be set: the PostgreSQL
 * variants of the server tests then run, never skip silently.
 */
import { describe, expect, it } from 'vitest';
import { PostgresDb } from '../src/db/postgres.ts';

const url = process.env.LOCKSTEP_PG_URL;

describe('PostgreSQL', () => {
  it.runIf(process.env.CI === 'true')('is configured in CI', () => {
    expect(url, 'LOCKSTEP_PG_URL must be set in CI (.ci/run starts a cluster)').toBeTruthy();
  });

  it.skipIf(!url)('driver returns int8 as a number, jsonb parsed, and runs REPEATABLE READ transactions', async () => {
    const db = new PostgresDb(url!);
    try {
      const r = await db.query<{ big: number; doc: { a: number[] } }>(`SELECT 9007199254740991::int8 AS big, '{"a":[1,2]}'::jsonb AS doc`);
      expect(r.rows[0]).toEqual({ big: 9007199254740991, doc: { a: [1, 2] } });
      const iso = await db.transaction((tx) => tx.query<{ i: string }>(`SHOW transaction_isolation`), { isolation: 'repeatable read', readOnly: true });
      expect(iso.rows[0]!.i ?? Object.values(iso.rows[0]!)[0]).toBe('repeatable read');
      await expect(db.transaction(async (tx) => {
        await tx.query(`CREATE TEMP TABLE t (x int)`);
        throw new Error('roll back');
      })).rejects.toThrow('roll back');
    } finally {
      await db.close();
    }
  });
});
