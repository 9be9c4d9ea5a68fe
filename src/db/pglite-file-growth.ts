/**
 * PGlite keeps its files in Emscripten's MEMFS (also under IndexedDB, which syncs a MEMFS copy).
 * MEMFS grows a file past 1 MiB by 1/8 at a time, copying it whole each time: a table or WAL
 * segment that grows to 40 MB is copied about eight times over, and a catch-up of 100,000
 * documents spent more CPU there (expandFileStorage) than in any other function. Files past
 * 1 MiB grow here by their own size, at most `stepBytes` at a time: about two copies, at most
 * stepBytes unused per large file.
 */

/** Default of PGliteDb.open's fileGrowthStepBytes: 16 MiB (a WAL segment). */
export const defaultFileGrowthStepBytes = 16 * 1024 * 1024;

interface MemfsNode { contents: Uint8Array; usedBytes: number; name?: string }

/**
 * PostgreSQL creates each WAL segment as `xlogtemp.<pid>` and fills it with zeros up to the
 * segment size (16 MiB, PGlite's) before renaming it: it gets its whole size at once instead of
 * eleven doublings (those were most of the bytes a catch-up allocated for files).
 */
const walSegmentBytes = 16 * 1024 * 1024;
interface Memfs { expandFileStorage(node: MemfsNode, wanted: number): void }

/** The step to use, or a clear error naming the option. */
export function checkFileGrowthStep(stepBytes: number = defaultFileGrowthStepBytes): number {
  if (!Number.isSafeInteger(stepBytes) || stepBytes < 1) throw new Error(`fileGrowthStepBytes must be a positive integer, got ${stepBytes}`);
  return stepBytes;
}

/** Replaces MEMFS's growth of this PGlite instance's files; false if its runtime has no such function (another PGlite build). */
export function tuneFileGrowth(pg: unknown, stepBytes: number = defaultFileGrowthStepBytes): boolean {
  checkFileGrowthStep(stepBytes);
  const memfs = (pg as { Module?: { MEMFS?: Partial<Memfs> } }).Module?.MEMFS;
  if (typeof memfs?.expandFileStorage !== 'function') return false;
  memfs.expandFileStorage = (node, wanted) => {
    // MEMFS gives every file contents (an empty array at first), so there is always a length.
    const had = node.contents.length;
    if (had >= wanted) return;
    // Small files double, as MEMFS does; the many small relations of a shared instance stay small.
    const grown = node.name?.startsWith('xlogtemp.') ? walSegmentBytes : had < 1024 * 1024 ? had * 2 : had + Math.min(had, stepBytes);
    const contents = new Uint8Array(Math.max(wanted, grown, 256));
    if (node.usedBytes > 0) contents.set(node.contents.subarray(0, node.usedBytes));
    node.contents = contents;
  };
  return true;
}
