import { describe, expect, it } from 'vitest';
import { defaultFileGrowthStepBytes, tuneFileGrowth } from './pglite-file-growth.ts';
import { PGliteDb } from './pglite.ts';

const MiB = 1024 * 1024;
function fakePg() {
  const memfs = { expandFileStorage: (_node: { contents: Uint8Array; usedBytes: number }, _wanted: number) => {} };
  return { pg: { Module: { MEMFS: memfs } }, memfs };
}
function grow(memfs: { expandFileStorage(n: { contents: Uint8Array; usedBytes: number }, w: number): void }, had: number, wanted: number) {
  const node = { contents: new Uint8Array(had), usedBytes: had };
  if (had > 0) node.contents[had - 1] = 7;
  memfs.expandFileStorage(node, wanted);
  if (had > 0) expect(node.contents[had - 1]).toBe(7);
  return node.contents.length;
}

describe('PGlite file growth', () => {
  it('doubles small files, grows large ones by their size up to the step, keeps the contents', () => {
    const { pg, memfs } = fakePg();
    expect(tuneFileGrowth(pg)).toBe(true);
    expect(grow(memfs, 8192, 8193)).toBe(16384);
    expect(grow(memfs, 2 * MiB, 2 * MiB + 1)).toBe(4 * MiB);
    expect(grow(memfs, 40 * MiB, 40 * MiB + 1)).toBe(40 * MiB + defaultFileGrowthStepBytes);
    expect(grow(memfs, 40 * MiB, 100 * MiB)).toBe(100 * MiB);
    expect(grow(memfs, 40 * MiB, 10)).toBe(40 * MiB);
    // A WAL segment being created takes its whole size at its first growth.
    const wal = { contents: new Uint8Array(8192), usedBytes: 8192, name: 'xlogtemp.42' };
    memfs.expandFileStorage(wal, 16384);
    expect(wal.contents.length).toBe(16 * MiB);
    const small = fakePg();
    tuneFileGrowth(small.pg, MiB);
    expect(grow(small.memfs, 40 * MiB, 40 * MiB + 1)).toBe(41 * MiB);
  });

  it('leaves a runtime without MEMFS alone and refuses a bad step', () => {
    expect(tuneFileGrowth({})).toBe(false);
    expect(() => tuneFileGrowth(fakePg().pg, 0)).toThrow('fileGrowthStepBytes must be a positive integer, got 0');
  });

  it('PGliteDb.open tunes its instance, and large writes still read back', async () => {
    await expect(PGliteDb.open('memory', { fileGrowthStepBytes: 1.5 })).rejects.toThrow('fileGrowthStepBytes must be a positive integer, got 1.5');
    const db = await PGliteDb.open('memory', { fileGrowthStepBytes: MiB });
    try {
      const memfs = (db.pg as unknown as { Module: { MEMFS: { expandFileStorage(n: { contents: Uint8Array; usedBytes: number }, w: number): void } } }).Module.MEMFS;
      expect(grow(memfs, 8 * MiB, 8 * MiB + 1)).toBe(9 * MiB);
      await db.exec(`CREATE TABLE t (n int PRIMARY KEY, s text); INSERT INTO t SELECT n, repeat('x', 200) FROM generate_series(1, 20000) n`);
      const r = await db.query<{ c: number; l: number }>(`SELECT count(*)::int AS c, sum(length(s))::int AS l FROM t`);
      expect(r.rows[0]).toEqual({ c: 20000, l: 20000 * 200 });
    } finally {
      await db.close();
    }
  });
});
