import type { WideWorkload } from './wide-workload.ts';

/**
 * Knobs that reach server paths the rest of swarm does not (issue 9, item 9), drawn after every
 * other draw of a seed (config.ts calls this right after drawCoverageKnobs). Each is set only when
 * drawn on, so a seed that draws it off behaves, and hashes, as before.
 * - refusedLabelRate: an app mutator (`label`, refused-label.ts) whose server-side refusal quotes
 *   its input raw; a NUL in it makes PostgreSQL refuse the push's data, so the server's one-by-one
 *   fallback runs (ServerDatabase.pushOneByOne).
 * - boundaryAbuse: the hostile boundary's 'request' ops (wide.boundaryRate) also knock on every
 *   door the wrong way (faults/hostile-boundary.ts, abuseDoors): no token or another scheme,
 *   malformed and conflicting registrations, bodies over the limit on each route (declared and
 *   chunked), a pull of another protocol version, too many origin clients, poke streams without a
 *   token or left at once. Each must be refused with its status and write nothing.
 * - effectBudgetBytes: the server's per-push effect budget (ServerLimits.maxEffectBytesPerPush,
 *   set as an operator sets it) below what big documents add up to: a push stops at a mutation
 *   boundary when the next one would pass it (the client sends the rest), and a mutation over it
 *   on its own is recorded as failed.
 * - scheduleKeepMs: the compaction schedule's retention (createSyncServer's `retention`) keeps by
 *   age only, as an operator may configure it: the compaction path without a version bound.
 * - serverPageDefaults: in half the seeds whose pages hold 500 rows, the server is started without
 *   pageSize and pageBytes, as an operator who keeps production's defaults starts it.
 * - misconfiguredStart: the seed's first server start is tried with an operator's typos first (an
 *   environment variable, a server limit, the retention, the schedule, the schema, PGlite's growth
 *   step: faults/server-misconfigured-start.ts); each must fail at once naming the setting.
 * - boundaryStrangers: the hostile boundary's 'request' ops also register without a token (a
 *   server-issued one, then 409 for the same group), push naming another group's client (403) and
 *   declare a body over the limit (413) (faults/hostile-boundary.ts, strangerDoors).
 * - shortDrainMs: a server restart's drain window is at most 0-20 ms, shorter than the requests in
 *   flight: the listener closes while they run, and shutdown waits for them before closing.
 * - crashInCompaction: a server crash or restart waits (up to two periods) for the compaction
 *   schedule's next run to begin and lands inside it (compactionSchedule's error path, or its stop
 *   during a run; the loop ends with the process).
 * - pgliteDirStart (10%): the first start is also tried on an embedded PGlite in a temp data
 *   directory with a typo: createSyncServer opens the directory first, so it must close it again.
 * - sloppyTagRate (30% of seeds, 0.5-2% of ops): an app mutator `tag` (refused-label.ts) whose
 *   server side writes a bad key (empty type or id, too long, a NUL) or document (a NUL, too
 *   deep): the server records it as failed (checkEffects), the client drops its own write.
 * - secondSignal: a server restart's drain gets a second signal (SyncApi.shutdown again), which
 *   must join the first.
 * - compactUnbounded: the schedule's compaction runs as production's (no `upTo`); the simulator
 *   reads its archive inside the compaction's transaction instead of before it (sim-server.ts).
 * - crashInFallback: where refused labels run, a server crash waits (up to 10 s) for a push the
 *   database refused and lands inside ServerDatabase.pushOneByOne's retry (its non-data error).
 */
export function drawServerCoverageKnobs(next: () => number, wide: WideWorkload): void {
  const label = next();
  if (label < 0.3) wide.refusedLabelRate = +(0.01 + next() * 0.03).toFixed(4);
  // Only matters where boundaryRate is on (40% of seeds): on in 60% of seeds.
  if (next() < 0.6) wide.boundaryAbuse = true;
  // Under what a few big documents (10-250 KB) or increments of one add up to; everyday documents never reach it.
  if (next() < 0.3) wide.effectBudgetBytes = Math.floor(10_000 + next() * 140_000);
  // Matters in the seeds with a compaction schedule (half of them).
  if (next() < 0.3) wide.scheduleKeepMs = Math.floor(next() * 5_000);
  // Only where the seed does not page anyway (its pages of 500 rows hold a whole run).
  if (wide.pageSize === 500 && next() < 0.5) wide.serverPageDefaults = true;
  // No statements and no virtual time: only the trace of the seeds that draw it changes.
  if (next() < 0.3) wide.misconfiguredStart = true;
  // Only matters where boundaryRate is on (40% of seeds).
  if (next() < 0.6) wide.boundaryStrangers = true;
  // Matters in the seeds with server restarts (about half).
  if (next() < 0.4) wide.shortDrainMs = Math.floor(next() * 21);
  // Matters in the seeds with both a compaction schedule and server crashes (about a quarter).
  if (next() < 0.5) wide.crashInCompaction = true;
  // A PGlite boot of seconds: rare.
  if (next() < 0.1) wide.pgliteDirStart = true;
  if (next() < 0.3) wide.sloppyTagRate = +(0.005 + next() * 0.015).toFixed(4);
  // Matters in the seeds with server restarts.
  if (next() < 0.5) wide.secondSignal = true;
  // Matters in the seeds with a compaction schedule (half of them).
  if (next() < 0.5) wide.compactUnbounded = true;
  // Matters in the seeds with refused labels and server crashes (and no crash aimed at compactions).
  if (next() < 0.5) wide.crashInFallback = true;
}

/** The report's words for them (describeMix). */
export function describeServerCoverageKnobs(w: WideWorkload): string[] {
  return [...(w.refusedLabelRate ? [`refused label ${w.refusedLabelRate}`] : []), ...(w.boundaryAbuse && w.boundaryRate ? ['boundary abuse'] : []), ...(w.effectBudgetBytes ? [`effect budget ${w.effectBudgetBytes}`] : []), ...(w.scheduleKeepMs !== undefined ? [`scheduled compaction keeps ${w.scheduleKeepMs} ms`] : []), ...(w.serverPageDefaults ? ['server page defaults'] : []), ...(w.misconfiguredStart ? ['misconfigured start'] : []), ...(w.boundaryStrangers && w.boundaryRate ? ['boundary strangers'] : []), ...(w.shortDrainMs !== undefined ? [`drain at most ${w.shortDrainMs} ms`] : []), ...(w.crashInCompaction ? ['crash in scheduled compaction'] : []), ...(w.pgliteDirStart ? ['misconfigured start on a data directory'] : []), ...(w.sloppyTagRate ? [`sloppy tag ${w.sloppyTagRate}`] : []), ...(w.secondSignal ? ['second signal'] : []), ...(w.compactUnbounded ? ['unbounded compaction'] : []), ...(w.crashInFallback && w.refusedLabelRate ? ['crash in one-by-one fallback'] : [])];
}
