/** The observer's incremental server log reads what a full read would, even after the log is rewritten. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PGliteDb } from '../db/pglite.ts';
import { BaseCache, LogCache } from './observe.ts';

let db: PGliteDb;
beforeAll(async () => {
  db = await PGliteDb.open();
  await db.exec('CREATE SCHEMA lc; CREATE TABLE lc.replication_log (version bigint PRIMARY KEY, effects jsonb NOT NULL); CREATE TABLE lc.log_base (key text PRIMARY KEY, value jsonb NOT NULL)');
});
afterAll(() => db.close());

const put = (v: number, value: unknown) => db.query('INSERT INTO lc.replication_log VALUES ($1, $2)', [v, JSON.stringify([{ op: 'put', key: `a/${v}`, value }])]);
const full = async (upTo: number) => (await db.query<{ version: number; effects: unknown }>('SELECT version, effects FROM lc.replication_log WHERE version <= $1 ORDER BY version', [upTo])).rows.map((r) => ({ version: Number(r.version), effects: r.effects }));

describe('LogCache', () => {
  it('serves prefixes as the full query does, across appends, deletes and in-place updates', async () => {
    const cache = new LogCache(db, 'lc');
    for (let v = 1; v <= 5; v++) await put(v, v);
    expect(await cache.upTo(3)).toEqual(await full(3));
    expect(await cache.upTo(99)).toEqual(await full(99));
    for (let v = 6; v <= 8; v++) await put(v, v);
    expect(await cache.upTo(7)).toEqual(await full(7));
    expect(await cache.upTo(2)).toEqual(await full(2));
    // A rewrite below what was cached (a compaction, a restore) is noticed.
    await db.query('UPDATE lc.replication_log SET effects = $1 WHERE version = 2', [JSON.stringify([{ op: 'del', key: 'a/2' }])]);
    expect(await cache.upTo(8)).toEqual(await full(8));
    await db.query('DELETE FROM lc.replication_log WHERE version <= 3');
    await put(0, 'below');
    expect(await cache.upTo(8)).toEqual(await full(8));
  });
});

describe('BaseCache', () => {
  const base = async () => (await db.query<{ key: string; value: unknown }>('SELECT key, value FROM lc.log_base')).rows.map((b) => ({ op: 'put', key: b.key, value: b.value }));
  const upsert = (k: string, v: unknown) => db.query('INSERT INTO lc.log_base VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [k, JSON.stringify(v)]);
  it('serves the compacted base as a full read does, across inserts, updates and deletes', async () => {
    const cache = new BaseCache(db, 'lc');
    expect(await cache.read()).toEqual([]);
    await upsert('a/1', 1);
    await upsert('a/2', 2);
    expect(await cache.read()).toEqual(await base());
    // An update in place keeps the count: its new xmin still moves the fingerprint.
    await upsert('a/1', 'changed');
    expect(await cache.read()).toEqual(await base());
    await db.query("DELETE FROM lc.log_base WHERE key = 'a/2'");
    await upsert('a/3', 3);
    expect(await cache.read()).toEqual(await base());
  });
});
