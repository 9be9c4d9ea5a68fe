import { z } from 'zod';

/**
 * The workload knobs beyond the op mix, drawn per seed under swarm: page and batch sizes (so that
 * paging and multi-request pushes run), document sizes up to near the limit, upserts that change a
 * document's set of fields, mutations that fail on the server, hostile inputs the engine must
 * refuse, and a misbehaving client that bypasses the engine. Absent (fixed profiles, old replay
 * files) means the production defaults and none of the extra work.
 */
export const wideWorkloadSchema = z.object({
  /** The server's pull page: most log rows (1..500) and bytes per page. */
  pageSize: z.number().int().min(1).max(500),
  pageBytes: z.number().int().positive(),
  /** The engine's push batch: most mutations and bytes per push request. */
  pushBatchSize: z.number().int().min(1).max(1000),
  maxPushBytes: z.number().int().positive(),
  /** Chance an upsert carries a big document (up to near the 256 KiB limit); kept low, they are slow. */
  bigDocRate: z.number().min(0).max(1),
  /** Chance an upsert writes a different set of fields from the usual one. */
  reshapeRate: z.number().min(0).max(1),
  /** Chance an op is one that the server refuses (increment of a non-numeric field). */
  failingRate: z.number().min(0).max(1),
  /** Chance an op is a hostile input the engine must refuse (MutationRejectedError). */
  hostileRate: z.number().min(0).max(1),
  /** Chance an op is a raw push from a misbehaving client (skipped ids, stale ids, another group's client). */
  intruderRate: z.number().min(0).max(1),
  /** The engine's document cache (absent: the production 1,000): 0 turns it off, a few entries make it evict. */
  documentCacheEntries: z.number().int().nonnegative().optional(),
  /** The engine's deferred durability mode and its flush interval (absent: durable). */
  flushIntervalMs: z.number().int().nonnegative().optional(),
  /** Chance an op is a hostile raw request at the HTTP boundary (faults/hostile-boundary.ts); absent: none. */
  boundaryRate: z.number().min(0).max(1).optional(),
  /** Share of clients that sync through the TanStack Start server-function door (transport-server-fn.ts); absent: none. */
  doorRate: z.number().min(0).max(1).optional(),
  /** The app's screen also reads with engine.get and renders onStateChange (app-view.ts); absent: off. */
  appReads: z.boolean().optional(),
  /** Chance an op is a call of the app mutator `label` that the server refuses, quoting a NUL (refused-label.ts); absent: none, and not registered. */
  refusedLabelRate: z.number().min(0).max(1).optional(),
  /** The app also shows a list across types and a detail view of the entity last changed (app-view.ts); absent: off. */
  appScreens: z.boolean().optional(),
  /** Chance an op is an app's mistake the engine must refuse (a Date, undefined or a BigInt in a document, wide-ops.ts); absent: none. */
  mistakeRate: z.number().min(0).max(1).optional(),
  /** The engine's applyChunkBytes (absent: the production 256 KiB): small, so that a pull page is written in many statements. */
  applyChunkBytes: z.number().int().positive().optional(),
  /** Boundary ops of kind 'request' also abuse the doors (faults/hostile-boundary.ts: boundaryAbuse); absent: off. */
  boundaryAbuse: z.boolean().optional(),
  /** The server's maxEffectBytesPerPush, below big documents (coverage-knobs-server.ts); absent: the production 8 MiB. */
  effectBudgetBytes: z.number().int().positive().optional(),
  /** The compaction schedule's retention keeps by age only, this many ms (coverage-knobs-server.ts); absent: by versions. */
  scheduleKeepMs: z.number().int().nonnegative().optional(),
  /** The server is given no page size or page bytes: production's defaults (coverage-knobs-server.ts); absent: pageSize and pageBytes. */
  serverPageDefaults: z.boolean().optional(),
  /** The seed's first server start is tried with an operator's typos first, each refused at once (faults/server-misconfigured-start.ts); absent: off. */
  misconfiguredStart: z.boolean().optional(),
  /** Boundary ops of kind 'request' also knock as a stranger: a server-issued token, another group's client, a declared body over the limit (faults/hostile-boundary.ts); absent: off. */
  boundaryStrangers: z.boolean().optional(),
  /** A server restart's drain window is at most this (0-20 ms), shorter than the requests in flight (faults/server-restart.ts); absent: the event's. */
  shortDrainMs: z.number().int().nonnegative().optional(),
  /** A server crash waits (up to one period) for the compaction schedule's next run and lands in it (faults/server-crash.ts); absent: off. */
  crashInCompaction: z.boolean().optional(),
  /** The first server start is also tried on a PGlite data directory with a typo, refused after the directory opened (faults/server-misconfigured-start.ts); absent: off. */
  pgliteDirStart: z.boolean().optional(),
  /** Chance an op is a call of the app mutator `tag` whose server side writes a bad key or document (refused-label.ts); absent: none. */
  sloppyTagRate: z.number().min(0).max(1).optional(),
  /** A server restart's drain gets a second signal, which must join the first shutdown (faults/server-restart.ts); absent: off. */
  secondSignal: z.boolean().optional(),
  /** The schedule's compaction runs without `upTo`, its archive read inside its transaction (sim-server.ts); absent: archived first, then compacted up to it. */
  compactUnbounded: z.boolean().optional(),
  /** A server crash waits (up to 10 s) for a push the database refused and lands in its one-by-one retry (faults/server-crash.ts); absent: off. */
  crashInFallback: z.boolean().optional(),
  /** Chance an op is a call of the app's own ledger mutators or a gauge increment near 1e308 (custom-mutators.ts); absent: none, and not registered. */
  ledgerRate: z.number().min(0).max(1).optional(),
  /** The app's lifecycle mistakes: its sync loop started twice, a replaced engine closed again and written to after close (coverage-knobs.ts); absent: off. */
  appLifecycle: z.boolean().optional(),
  /** Deferred mode: the engine's maxUnflushedWrites, a few, so that a write waits for a flush (absent: the production 1,000). */
  maxUnflushedWrites: z.number().int().positive().optional(),
});
export type WideWorkload = z.infer<typeof wideWorkloadSchema>;

/** One seed's draw; `on(max)` is 0 for half the seeds, else up to max. */
export function drawWideWorkload(next: () => number, on: (max: number) => number): WideWorkload {
  const pick = (lo: number, hi: number) => Math.floor(lo + next() * (hi - lo + 1));
  // Small pages in most seeds (a run has ~200 mutations), the production 500 now and then.
  const pageSize = next() < 0.8 ? pick(1, 60) : 500;
  // Tiny page bytes (a row or two per page) in a fifth of the seeds, so that a client behind the
  // compaction horizon bootstraps through many staged pages.
  const bytes = next();
  const pageBytes = bytes < 0.2 ? pick(20, 300) : bytes < 0.45 ? pick(2_000, 300_000) : 4 * 1024 * 1024;
  const pushBatchSize = next() < 0.7 ? pick(1, 20) : 100;
  const maxPushBytes = next() < 0.3 ? pick(1_000, 300_000) : 512 * 1024;
  return { pageSize, pageBytes, pushBatchSize, maxPushBytes, bigDocRate: on(0.02), reshapeRate: on(0.5), failingRate: on(0.05), hostileRate: on(0.03), intruderRate: on(0.02) };
}

/**
 * The engine options the knobs set (spread into PersistentSyncEngine.open). A batch size or byte
 * cap equal to the production default is left out, as an app that never sets it does.
 */
export function engineKnobs(w: WideWorkload | undefined): { pushBatchSize?: number; maxPushBytes?: number; documentCacheEntries?: number; durability?: 'deferred'; flushIntervalMs?: number; applyChunkBytes?: number } {
  return w ? {
    ...(w.pushBatchSize !== 100 ? { pushBatchSize: w.pushBatchSize } : {}), ...(w.maxPushBytes !== 512 * 1024 ? { maxPushBytes: w.maxPushBytes } : {}),
    ...(w.documentCacheEntries !== undefined ? { documentCacheEntries: w.documentCacheEntries } : {}),
    ...(w.applyChunkBytes !== undefined ? { applyChunkBytes: w.applyChunkBytes } : {}),
    ...(w.flushIntervalMs !== undefined ? { durability: 'deferred' as const, flushIntervalMs: w.flushIntervalMs } : {}),
  } : {};
}

/** The server options the knobs set (spread into ServerDatabase.open). */
export function serverKnobs(w: WideWorkload | undefined): { pageSize?: number; pageBytes?: number } {
  return w ? { pageSize: w.pageSize, pageBytes: w.pageBytes } : {};
}
