import { z } from 'zod';
import { faultModules } from './faults/index.ts';
import { drawWideWorkload, wideWorkloadSchema, type WideWorkload } from './wide-workload.ts';
import { budgetSchema } from './run-guard.ts';
import { describeCoverageKnobs, drawAppCoverageKnobs, drawCoverageKnobs } from './coverage-knobs.ts';
import { describeServerCoverageKnobs, drawServerCoverageKnobs } from './coverage-knobs-server.ts';
import { describeServerProcess, drawServerProcess, serverProcessSchema, type ServerProcessConfig } from './server-process.ts';

/** Network behaviour while faults are on; during heal only latency remains. */
export const networkSchema = z.object({
  latencyMs: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]).refine(([a, b]) => a <= b, 'latencyMs must be [min, max] with min <= max'),
  /** Extra delay some messages get, so that later requests overtake earlier ones. */
  reorderRate: z.number().min(0).max(1),
  dropRate: z.number().min(0).max(1),
  lostAckRate: z.number().min(0).max(1),
  duplicateRate: z.number().min(0).max(1),
  timeoutMs: z.number().int().positive(),
  /** HTTP faults (faults/http-faults.ts); absent means 0, as in configs from before them. */
  serverErrorRate: z.number().min(0).max(1).optional(),
  truncateRate: z.number().min(0).max(1).optional(),
  slowResponseRate: z.number().min(0).max(1).optional(),
  /** A proxy rewrites a pull answer into a page the protocol refuses (faults/proxy-rewrite.ts). */
  rewriteRate: z.number().min(0).max(1).optional(),
});
export type NetworkConfig = z.infer<typeof networkSchema>;

/**
 * Chance per schedule step that a fault of each kind starts: one rate per fault module. A rate
 * left out is 0, so replay files written before a fault module existed still load.
 */
type RateKey = (typeof faultModules)[number]['rate'];
export const faultRatesSchema = z.object(Object.fromEntries(faultModules.map((m) => [m.rate, z.number().min(0).max(1)])) as Record<RateKey, z.ZodNumber>);
/** In a run's config a rate absent (a replay file from before that fault existed) is 0. */
const faultRatesWithDefaults = z.object(Object.fromEntries(faultModules.map((m) => [m.rate, z.number().min(0).max(1).default(0)])) as Record<RateKey, z.ZodDefault<z.ZodNumber>>);
export type FaultRates = z.infer<typeof faultRatesSchema>;

/** Relative weights of what a non-fault step does. */
export const workloadSchema = z.object({
  upsert: z.number().min(0),
  delete: z.number().min(0),
  increment: z.number().min(0),
  sync: z.number().min(0),
});
export type Workload = z.infer<typeof workloadSchema>;

/**
 * The clients' SyncLoop options (engine start()), in virtual ms: shorter than production's so that
 * the interval and the backoff cap both happen within a run. Swarm draws them per seed.
 */
export const syncLoopSchema = z.object({
  intervalMs: z.number().int().positive(),
  pokeDelayMs: z.number().int().positive(),
  backoffBaseMs: z.number().int().positive(),
  backoffMaxMs: z.number().int().positive(),
});
export type SyncLoopConfig = z.infer<typeof syncLoopSchema>;
export const defaultSyncLoop: SyncLoopConfig = { intervalMs: 3_000, pokeDelayMs: 50, backoffBaseMs: 200, backoffMaxMs: 5_000 };

export const profileNames = ['none', 'flaky', 'offline-heavy', 'crashy', 'chaos', 'swarm'] as const;
export type ProfileName = (typeof profileNames)[number];

export const simConfigSchema = z.object({
  seed: z.string().min(1),
  clients: z.number().int().min(1).max(5000),
  /** Which client slots exist (default 0..clients-1). Shrinking drops idle slots without renaming the rest. */
  clientSlots: z.array(z.number().int().nonnegative()).optional(),
  steps: z.number().int().min(1).max(1_000_000),
  /** Virtual ms between schedule steps (on average). */
  stepMs: z.number().int().positive(),
  profile: z.enum(profileNames),
  server: z.enum(['pglite', 'postgres']),
  bug: z.string().optional(),
  workload: workloadSchema,
  network: networkSchema,
  faults: faultRatesWithDefaults,
  /** Liveness bound: virtual ms the heal phase may take. */
  healBudgetMs: z.number().int().positive(),
  /** Most virtual ms one database statement takes (drawn per statement). */
  dbLatencyMs: z.number().int().nonnegative(),
  /** Probability that a client checks its rebase invariant after a pull. */
  rebaseCheckRate: z.number().min(0).max(1),
  /** The app simulation (lockstep/sim defineSimulation) this run belongs to; absent: the built-in workload. */
  simulation: z.object({ name: z.string(), version: z.number().int().positive(), file: z.string().optional(), export: z.string().optional() }).optional(),
  /** The clients' sync loop timing (default defaultSyncLoop). */
  syncLoop: syncLoopSchema.optional(),
  /** Page and batch sizes, document sizes, failing, hostile and misbehaving work (wide-workload.ts); absent: the defaults. */
  wide: wideWorkloadSchema.optional(),
  /** The server process's compaction schedule and HTTP limits (server-process.ts); absent: the defaults. */
  serverProcess: serverProcessSchema.optional(),
  /** When a seed that does not finish becomes a seed-timeout finding (run-guard.ts); absent: defaultBudget. */
  budget: budgetSchema.partial().optional(),
});
export type SimConfig = z.infer<typeof simConfigSchema>;

export const defaultWorkload: Workload = { upsert: 35, delete: 12, increment: 30, sync: 23 };

export const quietNetwork: NetworkConfig = { latencyMs: [2, 40], reorderRate: 0, dropRate: 0, lostAckRate: 0, duplicateRate: 0, timeoutMs: 3_000 };
export const noFaults = Object.fromEntries(faultModules.map((m) => [m.rate, 0])) as FaultRates;
const ratesOf = (p: Exclude<ProfileName, 'swarm' | 'none'>) => Object.fromEntries(faultModules.map((m) => [m.rate, m.rates[p]])) as FaultRates;

export const profiles: Record<Exclude<ProfileName, 'swarm'>, { network: NetworkConfig; faults: FaultRates; wide?: WideWorkload }> = {
  none: { network: quietNetwork, faults: noFaults },
  flaky: {
    network: { latencyMs: [2, 300], reorderRate: 0.1, dropRate: 0.05, lostAckRate: 0.08, duplicateRate: 0.05, timeoutMs: 3_000 },
    faults: ratesOf('flaky'),
  },
  'offline-heavy': {
    network: { latencyMs: [2, 80], reorderRate: 0.02, dropRate: 0.01, lostAckRate: 0.02, duplicateRate: 0, timeoutMs: 3_000 },
    faults: ratesOf('offline-heavy'),
  },
  crashy: {
    network: { latencyMs: [2, 120], reorderRate: 0.05, dropRate: 0.01, lostAckRate: 0.05, duplicateRate: 0.02, timeoutMs: 3_000 },
    faults: ratesOf('crashy'),
  },
  chaos: {
    network: { latencyMs: [1, 400], reorderRate: 0.15, dropRate: 0.05, lostAckRate: 0.08, duplicateRate: 0.08, timeoutMs: 3_000, serverErrorRate: 0.02, truncateRate: 0.02, slowResponseRate: 0.01 },
    faults: ratesOf('chaos'),
    // Paging and multi-request pushes in every run, and some of each kind of odd work.
    wide: { pageSize: 25, pageBytes: 200_000, pushBatchSize: 8, maxPushBytes: 100_000, bigDocRate: 0.005, reshapeRate: 0.3, failingRate: 0.03, hostileRate: 0.02, intruderRate: 0.01 },
  },
};

/** TigerBeetle-VOPR-style swarm testing: every seed draws its own mix and intensities. */
export function swarmProfile(next: () => number): { network: NetworkConfig; faults: FaultRates; wide: WideWorkload; syncLoop: SyncLoopConfig; serverProcess: ServerProcessConfig } {
  const on = (max: number) => (next() < 0.5 ? 0 : +(next() * max).toFixed(4));
  const hi = Math.round(5 + next() * 500);
  const network: NetworkConfig = { latencyMs: [1, hi], reorderRate: on(0.3), dropRate: on(0.1), lostAckRate: on(0.15), duplicateRate: on(0.15), timeoutMs: 3_000 };
  const faults = Object.fromEntries(faultModules.map((m) => [m.rate, on(m.rates.swarmMax)])) as FaultRates;
  // Drawn after the older knobs, so that adding them left every seed's older draws as they were.
  Object.assign(network, { serverErrorRate: on(0.05), truncateRate: on(0.05), slowResponseRate: on(0.03) });
  const wide = drawWideWorkload(next, on);
  // The sync loop's timing, drawn last for the same reason.
  const between = (lo: number, hi: number) => Math.round(lo + next() * (hi - lo));
  const backoffBaseMs = between(50, 1_000);
  const syncLoop = { intervalMs: between(500, 8_000), pokeDelayMs: between(1, 300), backoffBaseMs, backoffMaxMs: between(backoffBaseMs * 2, 10_000) };
  // The server process's settings, drawn after everything else.
  const serverProcess = drawServerProcess(next);
  // The engine's document cache, drawn after everything else: off, or a few entries so that it
  // evicts (the production 1,000 never fills in a run), in a fifth of the seeds each.
  const cache = next();
  if (cache < 0.4) wide.documentCacheEntries = cache < 0.2 ? 0 : Math.floor(1 + next() * 4);
  // The engine's deferred durability mode in a third of the seeds, drawn last (the other draws stay as they were).
  if (next() < 1 / 3) wide.flushIntervalMs = Math.floor(next() * 400);
  // Coverage knobs (coverage-knobs.ts), after everything else.
  drawCoverageKnobs(next, wide, serverProcess);
  drawServerCoverageKnobs(next, wide);
  // The app's own mutators and lifecycle (coverage-knobs.ts), after those: every earlier draw stays as it was.
  drawAppCoverageKnobs(next, wide);
  // A proxy that rewrites pull answers, in half the seeds, drawn last (every earlier draw stays).
  const rewriteRate = on(0.05);
  if (rewriteRate > 0) network.rewriteRate = rewriteRate;
  return { network, faults, wide, syncLoop, serverProcess };
}

/** A seed's fault mix in one short line (non-zero rates only), for the per-seed report column. */
export function describeMix(c: Pick<SimConfig, 'network' | 'faults'> & { wide?: WideWorkload; syncLoop?: SyncLoopConfig; serverProcess?: ServerProcessConfig }): string {
  const n = c.network;
  const parts = [`latency ${n.latencyMs[0]}-${n.latencyMs[1]}`];
  for (const [k, v] of Object.entries({ reorder: n.reorderRate, drop: n.dropRate, lostAck: n.lostAckRate, duplicate: n.duplicateRate, serverError: n.serverErrorRate ?? 0, truncate: n.truncateRate ?? 0, slow: n.slowResponseRate ?? 0, rewrite: n.rewriteRate ?? 0, ...c.faults })) if (v > 0) parts.push(`${k} ${v}`);
  const w = c.wide;
  if (w) {
    parts.push(`page ${w.pageSize}/${w.pageBytes} B, push batch ${w.pushBatchSize}/${w.maxPushBytes} B`);
    for (const [k, v] of Object.entries({ bigDoc: w.bigDocRate, reshape: w.reshapeRate, failing: w.failingRate, hostile: w.hostileRate, intruder: w.intruderRate })) if (v > 0) parts.push(`${k} ${v}`);
    if (w.documentCacheEntries !== undefined) parts.push(`document cache ${w.documentCacheEntries}`);
    if (w.flushIntervalMs !== undefined) parts.push(`deferred writes, flush ${w.flushIntervalMs} ms`);
    parts.push(...describeCoverageKnobs(w));
    parts.push(...describeServerCoverageKnobs(w));
  }
  if (c.syncLoop) parts.push(`loop every ${c.syncLoop.intervalMs}, poke +${c.syncLoop.pokeDelayMs}, backoff ${c.syncLoop.backoffBaseMs}-${c.syncLoop.backoffMaxMs}`);
  parts.push(...describeServerProcess(c.serverProcess));
  return parts.join(', ');
}
