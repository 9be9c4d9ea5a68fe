import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SimConfig } from './config.ts';
import { configForSeed, type Scenario } from './scenario.ts';
import { runSimulation, type RunResult } from './run.ts';
import { shrink } from './shrink.ts';
import { toReplayFile, writeReplayFile } from './replay-file.ts';
import { buildReport } from './report/build.ts';
import { renderMarkdown } from './report/markdown.ts';
import { renderHtml, type Timeline } from './report/html.ts';
import type { Report, SeedReport } from './report/schema.ts';
import type { Stores } from './world.ts';
import type { TraceEvent } from './scheduler.ts';

/** Seeds S, S+1, ... for a numeric S; S-0, S-1, ... otherwise. */
export function seedList(first: string, count: number): string[] {
  const n = Number(first);
  return Array.from({ length: count }, (_, i) => (Number.isSafeInteger(n) && String(n) === first ? String(n + i) : count === 1 ? first : `${first}-${i}`));
}

/** Names the first event where two traces of the same seed part ways. */
export function firstTraceDifference(a: readonly TraceEvent[], b: readonly TraceEvent[]): string | undefined {
  const fmt = (e?: TraceEvent) => (e ? `${e.t} ms ${e.lane} ${e.kind}${e.detail ? ` ${e.detail}` : ''}` : 'end of trace');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (fmt(a[i]) !== fmt(b[i])) return `event ${i}: first run "${fmt(a[i])}", second run "${fmt(b[i])}"`;
  }
  return undefined;
}

export interface SweepOptions {
  outDir: string;
  checkDeterminism: boolean;
  shrink: boolean;
  shrinkBudgetMs: number;
  /** Seeds whose timelines go into report.html even when they converged. */
  timelineSeeds?: string[];
  /** The scenario the base came from: its network/fault overrides also apply to each seed's swarm mix. */
  scenario?: Scenario;
  /** With --coverage: the production coverage of the sweep, taken after the last seed. */
  coverage?: () => Promise<Report['coverage']>;
  onSeed?: (done: number, total: number, r: SeedReport) => void;
  onShrinkStep?: (seed: string, what: string, events: number) => void;
}

export async function runSweep(base: SimConfig, seeds: string[], stores: Stores, o: SweepOptions): Promise<Report> {
  const t0 = performance.now();
  const reports: SeedReport[] = [];
  const timelines: Timeline[] = [];
  mkdirSync(o.outDir, { recursive: true });
  for (const [i, seed] of seeds.entries()) {
    const config = configForSeed(base, seed, o.scenario);
    const r = await runSimulation(config, stores);
    const seedReport: SeedReport = { seed, verdict: r.verdict, violations: r.violations, traceHash: r.traceHash, stats: r.stats, mix: { network: config.network, faults: config.faults } };
    if (o.checkDeterminism) {
      const again = await runSimulation(config, stores);
      const diff = again.traceHash === r.traceHash ? undefined : firstTraceDifference(r.trace, again.trace) ?? 'trace hashes differ';
      seedReport.deterministic = diff === undefined;
      if (diff) {
        seedReport.verdict = 'violation';
        seedReport.violations = [...seedReport.violations, { checker: 'determinism', message: `seed ${seed} ran twice with different traces (${r.traceHash} vs ${again.traceHash}): ${diff}` }];
      }
    }
    if (r.verdict === 'violation') {
      const file = join(o.outDir, 'failures', `${seed}.json`);
      writeReplayFile(file, toReplayFile(r));
      seedReport.replayFile = file;
      seedReport.events = r.schedule.length;
      let shown: RunResult = r;
      if (o.shrink) {
        const s = await shrink(r, stores, { budgetMs: o.shrinkBudgetMs, onStep: (st) => o.onShrinkStep?.(seed, st.what, st.events) });
        const min = join(o.outDir, 'failures', `${seed}.min.json`);
        writeReplayFile(min, toReplayFile(s.result, { events: r.schedule.length, clients: r.config.clients }));
        seedReport.shrunkEvents = s.result.schedule.length;
        seedReport.shrunkReplayFile = min;
        seedReport.shrinkSeconds = +(s.elapsedMs / 1000).toFixed(1);
        shown = s.result;
      }
      if (timelines.length < 20) {
        timelines.push({ title: `seed ${seed}${shown !== r ? ` (shrunk from ${r.schedule.length} to ${shown.schedule.length} events)` : ''}`, seed, trace: shown.trace, violations: shown.violations });
      }
    } else if (o.timelineSeeds?.includes(seed)) {
      timelines.push({ title: `seed ${seed}`, seed, trace: r.trace, violations: [] });
    }
    reports.push(seedReport);
    o.onSeed?.(i + 1, seeds.length, seedReport);
  }
  const report = buildReport({ ...base, seed: seeds[0]! }, reports, performance.now() - t0, await o.coverage?.());
  writeFileSync(join(o.outDir, 'report.json'), JSON.stringify(report, null, 1) + '\n');
  writeFileSync(join(o.outDir, 'report.md'), renderMarkdown(report));
  writeFileSync(join(o.outDir, 'report.html'), renderHtml(report, timelines));
  return report;
}
