import { describe, expect, it } from 'vitest';
import { PGliteDb } from './pglite.ts';

describe('PGliteDb.open settings', () => {
  it('starts the instance with the given PostgreSQL settings, and fails the open on a value PostgreSQL refuses', async () => {
    const db = await PGliteDb.open('memory', { settings: { shared_buffers: '24MB' } });
    const r = await db.query<{ setting: string }>("SELECT setting FROM pg_settings WHERE name = 'shared_buffers'");
    // Counted in 8 kB pages.
    expect(r.rows[0]!.setting).toBe('3072');
    await db.close();
    await expect(PGliteDb.open('memory', { settings: { shared_buffers: 'lots' } })).rejects.toThrow();
  }, 60_000);
});
