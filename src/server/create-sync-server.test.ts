import { afterEach, describe, expect, it, vi } from 'vitest';
import { PostgresDb } from '../db/postgres.ts';
import { createSyncServer } from './index.ts';

afterEach(() => vi.restoreAllMocks());

describe('createSyncServer: a failed start', () => {
  it('closes the database it opened itself (the app retries a failed start: a PGlite left open would hold its data directory)', async () => {
    const close = vi.spyOn(PostgresDb.prototype, 'close');
    // The pool connects lazily: nothing listens on port 1, and nothing needs to.
    await expect(createSyncServer({ postgres: 'postgres://127.0.0.1:1/none', limits: { pageSize: 0 } })).rejects.toThrow('server limit pageSize must be a positive integer, got 0');
    expect(close).toHaveBeenCalledTimes(1);
    await expect(createSyncServer({ postgres: 'postgres://127.0.0.1:1/none', openDatabase: async () => { throw new Error('migration failed'); } })).rejects.toThrow('migration failed');
    expect(close).toHaveBeenCalledTimes(2);
  });

  it('leaves a database it was given open: its owner closes it', async () => {
    const db = new PostgresDb('postgres://127.0.0.1:1/none');
    const close = vi.spyOn(db, 'close');
    await expect(createSyncServer({ db, limits: { pageSize: 0 } })).rejects.toThrow('pageSize');
    expect(close).not.toHaveBeenCalled();
    await db.close();
  });
});
