import type { BugVariant } from './types.ts';
import { nonIdempotentPush } from './non-idempotent-push.ts';
import { lmidOutsideTransaction } from './lmid-outside-transaction.ts';
import { twoStatementPull } from './two-statement-pull.ts';
import { versionUpdateThenSelect } from './version-update-then-select.ts';
import { manualBeginCommit } from './manual-begin-commit.ts';
import { noRebase } from './no-rebase.ts';
import { ackedNeverDropped } from './acked-never-dropped.ts';
import { pendingByWallClock } from './pending-by-wall-clock.ts';
import { upsertIgnored } from './upsert-ignored.ts';
import { recreateStaysDeleted } from './recreate-stays-deleted.ts';
import { timestampCookie } from './timestamp-cookie.ts';
import { incrementLastWriterWins } from './increment-last-writer-wins.ts';
import { upsertMerges } from './upsert-merges.ts';
import { flushNextIdInMemory } from './flush-next-id-in-memory.ts';

export type { BugVariant } from './types.ts';

/** The planted-bug zoo, in the order of the original design's flaws. */
export const bugs: readonly BugVariant[] = [
  nonIdempotentPush,
  lmidOutsideTransaction,
  twoStatementPull,
  versionUpdateThenSelect,
  manualBeginCommit,
  noRebase,
  ackedNeverDropped,
  pendingByWallClock,
  upsertIgnored,
  recreateStaysDeleted,
  timestampCookie,
  incrementLastWriterWins,
  upsertMerges,
  flushNextIdInMemory,
];

export function findBug(name: string): BugVariant {
  const bug = bugs.find((b) => b.name === name);
  if (!bug) throw new Error(`unknown bug "${name}"; known: ${bugs.map((b) => b.name).join(', ')}`);
  return bug;
}
