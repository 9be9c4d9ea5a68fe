import { join } from 'node:path';
import type { ProfileName } from '../config.ts';
import type { Violation } from '../checkers/types.ts';
import { writeReplayFile, toReplayFile } from '../replay-file.ts';
import { runSimulation } from '../run.ts';
import { buildConfig } from '../scenario.ts';
import { shrink } from '../shrink.ts';
import { openStores } from '../stores.ts';
import { seedList } from '../sweep.ts';
import { workerPool } from '../parallel/pool.ts';
import type { ReplayFile } from '../replay-file.ts';
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
  /**
   * Worker processes to run seeds on (default 1, or LOCKSTEP_WORKERS): vitest already runs test
   * files side by side on the cores, and each worker boots its own databases. Results are those of
   * a serial run: the same first failing seed, trace hash and shrunk schedule. Workers load the
   * simulation by its file, so it must have one (see `file`).
   */
  workers?: number;
  /** Environment to read LOCKSTEP_SEED / LOCKSTEP_SEEDS / LOCKSTEP_WORKERS from (default process.env). */
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

/** A failing seed, however it ran: its first run and its shrunk run as replay files. */
interface Failed {
  seed: string;
  index: number;
  replay: ReplayFile;
  shrunk?: { replay: ReplayFile; seconds: number };
}

/**
 * Runs a simulation's seeds until one fails (in this process, or on `workers` processes); shrinks
 * that one and writes its replay files. What `simulationTest` (lockstep/sim/vitest) and the
 * examples' tests use.
 */
export async function checkSimulation(sim: Simulation, o: CheckOptions = {}): Promise<CheckResult> {
  const t0 = performance.now();
  const env = o.env ?? process.env;
  const where: { file?: string; export?: string } = o.file ? parseSimArg(o.file) : { file: sim.file };
  const ref = registerSimulation(sim, simulationRef(sim, where.file, where.export));
  const scenario = withSimulationFaults(undefined, sim);
  const seeds = env.LOCKSTEP_SEED ? [env.LOCKSTEP_SEED] : seedList(String(o.seed ?? 1), env.LOCKSTEP_SEEDS ? Number(env.LOCKSTEP_SEEDS) : (o.seeds ?? 20));
  const workers = Math.min(seeds.length, env.LOCKSTEP_WORKERS ? Number(env.LOCKSTEP_WORKERS) : (o.workers ?? 1));
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`checkSimulation(${sim.name}): workers must be a positive integer, not ${o.workers ?? env.LOCKSTEP_WORKERS}`);
  if (workers > 1 && !ref.file) throw new Error(`checkSimulation(${sim.name}): workers load the simulation by its file, and this one records none: pass { file: 'path/to/app.sim.ts#export' }`);
  const input = { clients: o.clients, steps: o.steps, profile: o.profile, server: o.server, scenario, simulation: ref };
  const budgetMs = (o.shrinkBudgetSeconds ?? 30) * 1000;
  const outDir = o.outDir ?? join('reports', 'sim-tests', slug(o.label ?? sim.name));
  const { seedsRun, failed } = workers > 1 ? await onWorkers(workers, seeds, input, budgetMs) : await inProcess(sim, seeds, input, o.server, budgetMs);
  const seconds = +((performance.now() - t0) / 1000).toFixed(1);
  if (!failed) return { ok: true, seedsRun, seconds };
  const replayFile = join(outDir, `${failed.seed}.json`);
  writeReplayFile(replayFile, failed.replay);
  const best = failed.shrunk?.replay ?? failed.replay;
  const shrunkReplayFile = join(outDir, `${failed.seed}.min.json`);
  writeReplayFile(shrunkReplayFile, best);
  return {
    ok: false,
    seedsRun,
    seconds,
    failure: {
      seed: failed.seed, violation: best.expected.violations[0] ?? failed.replay.expected.violations[0]!, events: failed.replay.schedule.length, shrunkEvents: best.schedule.length,
      traceHash: failed.replay.expected.traceHash, shrunkTraceHash: best.expected.traceHash, replayFile, shrunkReplayFile, shrinkSeconds: failed.shrunk?.seconds ?? 0,
    },
  };
}

type Input = Omit<Parameters<typeof buildConfig>[0], 'seed'>;

/** One seed after another on this process's databases, with the simulation in hand (it needs no file). */
async function inProcess(sim: Simulation, seeds: string[], input: Input, server: CheckOptions['server'], budgetMs: number): Promise<{ seedsRun: number; failed?: Failed }> {
  const stores = await openStores(server ?? 'pglite');
  try {
    for (const [index, seed] of seeds.entries()) {
      const r = await runSimulation(buildConfig({ ...input, seed }), stores, { simulation: sim });
      if (r.verdict === 'converged') continue;
      const s = budgetMs > 0 ? await shrink(r, stores, { budgetMs }) : undefined;
      const shrunk = s && { replay: toReplayFile(s.result, { events: r.schedule.length, clients: r.config.clients }), seconds: +(s.elapsedMs / 1000).toFixed(1) };
      return { seedsRun: index + 1, failed: { seed, index, replay: toReplayFile(r), ...(shrunk ? { shrunk } : {}) } };
    }
    return { seedsRun: seeds.length };
  } finally {
    await stores.close();
  }
}

/**
 * Seeds handed out in order to `workers` processes; after a failure no new seed starts, and the
 * lowest failing seed is the one reported (every seed before it has run), so the result is the
 * serial one. That seed is shrunk on a worker, as the serial path would shrink it.
 */
async function onWorkers(workers: number, seeds: string[], input: Input, budgetMs: number): Promise<{ seedsRun: number; failed?: Failed }> {
  const pool = await workerPool(workers, { input });
  try {
    let next = 0;
    let first: Failed | undefined;
    const slot = async (n: number) => {
      while (next < seeds.length && (first === undefined || next < first.index)) {
        const index = next++;
        const seed = seeds[index]!;
        const out = await pool.run(n, seed, { checkDeterminism: false, wantTrace: false });
        if (out.report.verdict === 'violation' && out.replay && (first === undefined || index < first.index)) first = { seed, index, replay: out.replay };
      }
    };
    await Promise.all(Array.from({ length: workers }, (_, n) => slot(n)));
    if (!first) return { seedsRun: seeds.length };
    if (budgetMs > 0) {
      const s = await pool.shrink(0, first.seed, budgetMs);
      first.shrunk = { replay: s.replay, seconds: s.seconds };
    }
    return { seedsRun: first.index + 1, failed: first };
  } finally {
    await pool.close();
  }
}
