import { join } from 'node:path';
import type { ProfileName } from '../config.ts';
import type { Violation } from '../checkers/types.ts';
import { writeReplayFile, toReplayFile } from '../replay-file.ts';
import { runSimulation } from '../run.ts';
import { buildConfig } from '../scenario.ts';
import { shrink } from '../shrink.ts';
import { openStores } from '../stores.ts';
import { seedList } from '../sweep.ts';
import { withSimulationFaults } from './config.ts';
import { parseSimArg, registerSimulation, simulationRef } from './load.ts';
import type { Simulation } from './types.ts';

export interface CheckOptions {
  /** How many seeds (default 20, or LOCKSTEP_SEEDS); LOCKSTEP_SEED runs exactly that one seed. */
  seeds?: number;
  /** First seed (default 1). */
  seed?: string | number;
  clients?: number;
  steps?: number;
  profile?: ProfileName;
  server?: 'pglite' | 'postgres';
  /** Seconds to shrink the first failing seed (default 30; 0: do not shrink). */
  shrinkBudgetSeconds?: number;
  /** Where replay files go (default reports/sim-tests/<label>). */
  outDir?: string;
  /** Names the output directory (default: the simulation's name). */
  label?: string;
  /** The simulation's module (FILE or FILE#export), when defineSimulation could not tell or it is a named export (replay files record it). */
  file?: string;
  /** Environment to read LOCKSTEP_SEED / LOCKSTEP_SEEDS from (default process.env). */
  env?: Record<string, string | undefined>;
}

export interface CheckFailure {
  seed: string;
  violation: Violation;
  events: number;
  shrunkEvents: number;
  traceHash: string;
  shrunkTraceHash: string;
  replayFile: string;
  shrunkReplayFile: string;
  shrinkSeconds: number;
}

export interface CheckResult {
  ok: boolean;
  seedsRun: number;
  seconds: number;
  failure?: CheckFailure;
}

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'sim';

/**
 * Runs a simulation's seeds in this process until one fails; shrinks that one and writes its
 * replay files. What `simulationTest` (lockstep/sim/vitest) and the examples' tests use.
 */
export async function checkSimulation(sim: Simulation, o: CheckOptions = {}): Promise<CheckResult> {
  const t0 = performance.now();
  const env = o.env ?? process.env;
  const where: { file?: string; export?: string } = o.file ? parseSimArg(o.file) : { file: sim.file };
  const ref = registerSimulation(sim, simulationRef(sim, where.file, where.export));
  const scenario = withSimulationFaults(undefined, sim);
  const seeds = env.LOCKSTEP_SEED ? [env.LOCKSTEP_SEED] : seedList(String(o.seed ?? 1), env.LOCKSTEP_SEEDS ? Number(env.LOCKSTEP_SEEDS) : (o.seeds ?? 20));
  const outDir = o.outDir ?? join('reports', 'sim-tests', slug(o.label ?? sim.name));
  const stores = await openStores(o.server ?? 'pglite');
  let seedsRun = 0;
  try {
    for (const seed of seeds) {
      const config = buildConfig({ seed, clients: o.clients, steps: o.steps, profile: o.profile, server: o.server, scenario, simulation: ref });
      const r = await runSimulation(config, stores, { simulation: sim });
      seedsRun++;
      if (r.verdict === 'converged') continue;
      const replayFile = join(outDir, `${seed}.json`);
      writeReplayFile(replayFile, toReplayFile(r));
      const budgetMs = (o.shrinkBudgetSeconds ?? 30) * 1000;
      const s = budgetMs > 0 ? await shrink(r, stores, { budgetMs }) : undefined;
      const best = s?.result ?? r;
      const shrunkReplayFile = join(outDir, `${seed}.min.json`);
      writeReplayFile(shrunkReplayFile, toReplayFile(best, { events: r.schedule.length, clients: r.config.clients }));
      return {
        ok: false,
        seedsRun,
        seconds: +((performance.now() - t0) / 1000).toFixed(1),
        failure: {
          seed, violation: best.violations[0] ?? r.violations[0]!, events: r.schedule.length, shrunkEvents: best.schedule.length,
          traceHash: r.traceHash, shrunkTraceHash: best.traceHash, replayFile, shrunkReplayFile, shrinkSeconds: s ? +(s.elapsedMs / 1000).toFixed(1) : 0,
        },
      };
    }
    return { ok: true, seedsRun, seconds: +((performance.now() - t0) / 1000).toFixed(1) };
  } finally {
    await stores.close();
  }
}
