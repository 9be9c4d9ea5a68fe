import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SimConfig } from './config.ts';
import { writeReplayFile } from './replay-file.ts';
import { configForSeed, type Scenario } from './scenario.ts';
import { buildReport } from './report/build.ts';
import { writeReportFiles } from './report/write.ts';
import type { Timeline } from './report/html.ts';
import type { Report, SeedReport } from './report/schema.ts';
import type { Stores } from './world.ts';
import { localRunner, type SeedOutcome, type SeedRunner } from './parallel/seed-runner.ts';

export { firstTraceDifference } from './parallel/seed-runner.ts';

const isIntegerSeed = (s: string) => Number.isSafeInteger(Number(s)) && String(Number(s)) === s;

/** The i-th seed of a sweep from `first`: S+i for a numeric S; S-i otherwise. */
export function seedAt(first: string, i: number): string {
  return isIntegerSeed(first) ? String(Number(first) + i) : `${first}-${i}`;
}

/** Seeds S, S+1, ... for a numeric S; S-0, S-1, ... otherwise (a single string seed stays as it is). */
export function seedList(first: string, count: number): string[] {
  if (count === 1 && !isIntegerSeed(first)) return [first];
  return Array.from({ length: count }, (_, i) => seedAt(first, i));
}

/** Which seeds a sweep runs, in order: `at(k)` is the k-th (undefined past the end); `count` is undefined for an open-ended campaign. */
export interface SeedPlan {
  at(k: number): string | undefined;
  count: number | undefined;
}

export const planOf = (seeds: readonly string[]): SeedPlan => ({ at: (k) => seeds[k], count: seeds.length });

export interface SweepOptions {
  outDir: string;
  checkDeterminism: boolean;
  shrink: boolean;
  shrinkBudgetMs: number;
  /** Only the first K failing seeds (in seed order) are shrunk; default 3. */
  shrinkFirst?: number;
  /** Stop starting seeds after the first failure. */
  bail?: boolean;
  /** Stop starting seeds once this many have failed. */
  maxFailures?: number;
  /** Campaign: stop starting seeds once this many ms have passed since the start. */
  durationMs?: number;
  /** Wall-clock ms without a scheduler step before a seed is a stalled seed-timeout (--seed-stall-seconds). */
  stallMs?: number;
  /** Seeds whose timelines go into report.html even when they converged. */
  timelineSeeds?: string[];
  /** The configuration of each seed (default: the base config with the seed replaced). */
  configFor?: (seed: string) => SimConfig;
  /** The scenario the base came from: its network/fault overrides also apply to each seed's swarm mix. */
  scenario?: Scenario;
  /** With --coverage: the production coverage of the sweep, taken after the last seed. */
  coverage?: () => Promise<Report['coverage']>;
  onSeed?: (done: number, total: number | undefined, r: SeedReport) => void;
  onShrinkStep?: (seed: string, what: string, events: number) => void;
  /** Why the sweep stopped before its last seed, if it did. */
  onStop?: (reason: string) => void;
}

/** A sweep in this process on the given stores (one seed after another). */
export async function runSweep(base: SimConfig, seeds: readonly string[] | SeedPlan, stores: Stores, o: SweepOptions): Promise<Report> {
  // Each seed draws its own swarm mix, exactly as a run of that seed alone would.
  const configFor = o.configFor ?? ((seed: string) => configForSeed(base, seed, o.scenario));
  return sweepWith(localRunner(configFor, stores), Array.isArray(seeds) ? planOf(seeds) : (seeds as SeedPlan), configFor, o);
}

const MAX_TIMELINES = 20;

/**
 * Runs a plan of seeds on a runner's slots (seeds are handed out in order as slots free up), then
 * shrinks the first K failing seeds in seed order, and writes the reports. Per-seed results do
 * not depend on the number of slots; which seeds ran does when a stop condition fires.
 */
export async function sweepWith(runner: SeedRunner, plan: SeedPlan, configFor: (seed: string) => SimConfig, o: SweepOptions): Promise<Report> {
  const t0 = performance.now();
  mkdirSync(o.outDir, { recursive: true });
  const outcomes = new Map<number, SeedOutcome>();
  let next = 0;
  let done = 0;
  let failures = 0;
  let stop: string | undefined;
  const stopCheck = () => {
    if (stop) return true;
    if (o.bail && failures > 0) stop = `--bail: a seed failed`;
    else if (o.maxFailures !== undefined && failures >= o.maxFailures) stop = `--max-failures ${o.maxFailures} reached`;
    else if (o.durationMs !== undefined && performance.now() - t0 >= o.durationMs) stop = `campaign time is up`;
    return stop !== undefined;
  };
  const timelineSeeds = new Set(o.timelineSeeds ?? []);
  const traces = new Map<number, SeedOutcome['trace']>();

  const slotLoop = async (slot: number) => {
    for (;;) {
      if (stopCheck()) return;
      const k = next;
      const seed = plan.at(k);
      if (seed === undefined) return;
      next++;
      const out = await runner.run(slot, seed, { checkDeterminism: o.checkDeterminism, wantTrace: timelineSeeds.has(seed), ...(o.stallMs !== undefined ? { stallMs: o.stallMs } : {}) });
      if (out.report.verdict === 'violation') {
        failures++;
        const file = join(o.outDir, 'failures', `${seed}.json`);
        if (out.replay) {
          writeReplayFile(file, out.replay);
          out.report.replayFile = file;
        }
      }
      if (out.trace) {
        traces.set(k, out.trace);
        delete out.trace;
        // Keep the lowest-numbered timelines only: memory stays bounded on long failing campaigns.
        if (traces.size > MAX_TIMELINES) traces.delete(Math.max(...traces.keys()));
      }
      outcomes.set(k, out);
      done++;
      o.onSeed?.(done, plan.count, out.report);
    }
  };
  await Promise.all(Array.from({ length: runner.slots }, (_, s) => slotLoop(s)));
  if (stop && plan.at(next) !== undefined) o.onStop?.(stop);

  const order = [...outcomes.keys()].sort((a, b) => a - b);
  const shrunkTraces = new Map<number, { title: string; trace: NonNullable<SeedOutcome['trace']>; violations: SeedReport['violations'] }>();
  if (o.shrink) {
    const queue = order.filter((k) => outcomes.get(k)!.shrinkable).slice(0, o.shrinkFirst ?? 3);
    const shrinkLoop = async (slot: number) => {
      for (let k = queue.shift(); k !== undefined; k = queue.shift()) {
        const rep = outcomes.get(k)!.report;
        const s = await runner.shrink(slot, rep.seed, o.shrinkBudgetMs, (what, events) => o.onShrinkStep?.(rep.seed, what, events));
        const min = join(o.outDir, 'failures', `${rep.seed}.min.json`);
        writeReplayFile(min, s.replay);
        rep.shrunkEvents = s.shrunkEvents;
        rep.shrunkReplayFile = min;
        rep.shrinkSeconds = s.seconds;
        shrunkTraces.set(k, { title: `seed ${rep.seed} (shrunk from ${s.events} to ${s.shrunkEvents} events)`, trace: s.trace, violations: s.violations });
      }
    };
    await Promise.all(Array.from({ length: runner.slots }, (_, s) => shrinkLoop(s)));
  }

  const timelines: Timeline[] = [];
  for (const k of order) {
    const rep = outcomes.get(k)!.report;
    const shrunk = shrunkTraces.get(k);
    const trace = traces.get(k);
    if (timelines.length >= MAX_TIMELINES) break;
    if (shrunk) timelines.push({ seed: rep.seed, ...shrunk });
    else if (trace) timelines.push({ title: `seed ${rep.seed}`, seed: rep.seed, trace, violations: rep.verdict === 'violation' ? rep.violations : [] });
  }
  const reports = order.map((k) => outcomes.get(k)!.report);
  const first = reports[0]?.seed ?? plan.at(0) ?? '1';
  const report = buildReport(configFor(first), reports, performance.now() - t0, await o.coverage?.());
  writeReportFiles(o.outDir, report, timelines);
  return report;
}
