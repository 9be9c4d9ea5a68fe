/** The simulator's PGlite settings: defaults, the env override, clear errors. */
import { describe, expect, it } from 'vitest';
import { openSimPglite, simPgliteDefaults, simPgliteSettings } from './sim-db-pglite.ts';

describe('simulator PGlite settings', () => {
  it('are the defaults, with the env variable overriding by name', () => {
    expect(simPgliteSettings('')).toEqual(simPgliteDefaults);
    expect(simPgliteSettings(' shared_buffers=128MB  work_mem=8MB ')).toEqual({ ...simPgliteDefaults, shared_buffers: '128MB', work_mem: '8MB' });
  });

  it('refuses a malformed setting by name', () => {
    expect(() => simPgliteSettings('shared_buffers')).toThrow(/LOCKSTEP_SIM_PGLITE_SETTINGS: "shared_buffers": expected name=value/);
    expect(() => simPgliteSettings("x=1';drop")).toThrow(/expected name=value/);
  });

  it('start PGlite with them, and say which when PGlite refuses one', async () => {
    const db = await openSimPglite();
    const rows = (await db.query<{ name: string; setting: string }>("SELECT name, setting FROM pg_settings WHERE name IN ('max_files_per_process', 'max_wal_size', 'shared_buffers') ORDER BY name")).rows;
    // shared_buffers is counted in 8 kB pages: 32 MB.
    expect(rows).toEqual([{ name: 'max_files_per_process', setting: '4000' }, { name: 'max_wal_size', setting: '32' }, { name: 'shared_buffers', setting: '4096' }]);
    await db.close();
    await expect(openSimPglite({ shared_buffers: 'lots' })).rejects.toThrow(/did not start with the simulator's settings "shared_buffers=lots"/);
  }, 60_000);
});
