import type { SimConfig } from '../config.ts';
import { runSimulation } from '../run.ts';
import { shrink } from '../shrink.ts';
import { toReplayFile, type ReplayFile } from '../replay-file.ts';
import type { SeedReport } from '../report/schema.ts';
import type { TraceEvent } from '../scheduler.ts';
import type { Stores } from '../world.ts';

/** What running one seed yields; plain data, so that it crosses a process boundary unchanged. */
export interface SeedOutcome {
  report: SeedReport;
  /** The run itself failed (not only the determinism check): it can be shrunk. */
  shrinkable: boolean;
  /** Set for failing seeds. */
  replay?: ReplayFile;
  /** Set for failing seeds and when asked for (a timeline of a converged seed). */
  trace?: TraceEvent[];
}

export interface ShrunkOutcome {
  seed: string;
  events: number;
  shrunkEvents: number;
  seconds: number;
  replay: ReplayFile;
  trace: TraceEvent[];
  violations: SeedReport['violations'];
}

export interface RunSeedOptions {
  checkDeterminism: boolean;
  wantTrace: boolean;
  /** Wall-clock ms without a scheduler step before the seed is a stalled seed-timeout (default run-guard's). */
  stallMs?: number;
}

/** Names the first event where two traces of the same seed part ways. */
export function firstTraceDifference(a: readonly TraceEvent[], b: readonly TraceEvent[]): string | undefined {
  const fmt = (e?: TraceEvent) => (e ? `${e.t} ms ${e.lane} ${e.kind}${e.detail ? ` ${e.detail}` : ''}` : 'end of trace');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (fmt(a[i]) !== fmt(b[i])) return `event ${i}: first run "${fmt(a[i])}", second run "${fmt(b[i])}"`;
  }
  return undefined;
}

/** Runs one seed on these stores: the same code serves a serial sweep and every worker process. */
export async function runSeed(config: SimConfig, stores: Stores, o: RunSeedOptions): Promise<SeedOutcome> {
  const seed = config.seed;
  const r = await runSimulation(config, stores, { stallMs: o.stallMs });
  const report: SeedReport = { seed, verdict: r.verdict, violations: r.violations, traceHash: r.traceHash, stats: r.stats, mix: { network: config.network, faults: config.faults, syncLoop: config.syncLoop, ...(config.wide ? { wide: config.wide } : {}), ...(config.serverProcess ? { serverProcess: config.serverProcess } : {}) } };
  if (o.checkDeterminism) {
    const again = await runSimulation(config, stores, { stallMs: o.stallMs });
    const diff = again.traceHash === r.traceHash ? undefined : firstTraceDifference(r.trace, again.trace) ?? 'trace hashes differ';
    report.deterministic = diff === undefined;
    if (diff) {
      report.verdict = 'violation';
      report.violations = [...report.violations, { checker: 'determinism', message: `seed ${seed} ran twice with different traces (${r.traceHash} vs ${again.traceHash}): ${diff}` }];
    }
  }
  const failed = r.verdict === 'violation';
  if (failed) report.events = r.schedule.length;
  return {
    report,
    // A stall is a wall-clock finding: each shrinking trial would wait out the bound.
    shrinkable: failed && !r.stalled,
    ...(failed ? { replay: toReplayFile(r) } : {}),
    ...(failed || o.wantTrace ? { trace: r.trace } : {}),
  };
}

/** Runs the seed again (deterministic, so it fails the same way) and shrinks it within the budget. */
export async function shrinkSeed(config: SimConfig, stores: Stores, budgetMs: number, onStep?: (what: string, events: number) => void): Promise<ShrunkOutcome> {
  const r = await runSimulation(config, stores);
  if (r.verdict !== 'violation') throw new Error(`seed ${config.seed} converged when run again for shrinking: the run is not deterministic`);
  const s = await shrink(r, stores, { budgetMs, onStep: (st) => onStep?.(st.what, st.events) });
  return {
    seed: config.seed,
    events: r.schedule.length,
    shrunkEvents: s.result.schedule.length,
    seconds: +(s.elapsedMs / 1000).toFixed(1),
    replay: toReplayFile(s.result, { events: r.schedule.length, clients: r.config.clients }),
    trace: s.result.trace,
    violations: s.result.violations,
  };
}

/** Where sweeps send seeds: in this process (one slot) or a pool of worker processes (a slot each). */
export interface SeedRunner {
  readonly slots: number;
  run(slot: number, seed: string, o: RunSeedOptions): Promise<SeedOutcome>;
  shrink(slot: number, seed: string, budgetMs: number, onStep?: (what: string, events: number) => void): Promise<ShrunkOutcome>;
  /** Peak RSS in bytes per slot, where known. */
  peakRss(): number[];
  close(): Promise<void>;
}

/** A runner in this process on the caller's stores. */
export function localRunner(configFor: (seed: string) => SimConfig, stores: Stores): SeedRunner {
  return {
    slots: 1,
    run: (_slot, seed, o) => runSeed(configFor(seed), stores, o),
    shrink: (_slot, seed, budgetMs, onStep) => shrinkSeed(configFor(seed), stores, budgetMs, onStep),
    peakRss: () => [process.resourceUsage().maxRSS * 1024],
    close: async () => {},
  };
}
