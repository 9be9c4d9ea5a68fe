import { join } from 'node:path';
import fc from 'fast-check';
import type { ProfileName, SimConfig } from '../config.ts';
import type { Violation } from '../checkers/types.ts';
import { faultModules, type AnyFaultModule } from '../faults/index.ts';
import { writeReplayFile, toReplayFile } from '../replay-file.ts';
import { runSimulation, type RunResult } from '../run.ts';
import { buildConfig } from '../scenario.ts';
import type { ScheduleEvent } from '../schedule.ts';
import { openStores } from '../stores.ts';
import { withSimulationFaults } from './config.ts';
import { parseSimArg, registerSimulation, simulationRef } from './load.ts';
import { drawsRandom } from './draws.ts';
import type { Simulation } from './types.ts';

export interface PropertyOptions {
  /** Generated schedules to run (default 20, or LOCKSTEP_PROPERTY_RUNS). */
  numRuns?: number;
  /** fast-check seed (default 1, or LOCKSTEP_FC_SEED): the same seed generates the same schedules. */
  seed?: number;
  /** fast-check replay path (or LOCKSTEP_FC_PATH): runs that counterexample first, then shrinks on from it. */
  path?: string;
  /** Most events in a generated schedule (default 40). */
  maxEvents?: number;
  clients?: number;
  /** Fixed profile for the network and the fault kinds drawn (default the simulation's, else chaos; swarm is refused). */
  profile?: Exclude<ProfileName, 'swarm'>;
  /** Draw fault events from the fault modules the profile turns on (default true). */
  faults?: boolean;
  /** Random draws per operation handed to the workload (default 16; past them it reads 0). */
  draws?: number;
  /** Seconds fast-check may spend shrinking after the first failure (default 60; 0: no shrinking). */
  shrinkBudgetSeconds?: number;
  server?: 'pglite' | 'postgres';
  /** Where the counterexample's replay file goes (default reports/sim-tests/<label>). */
  outDir?: string;
  label?: string;
  /** The simulation's module (FILE or FILE#export), when it is a named export: replay files record it. */
  file?: string;
  env?: Record<string, string | undefined>;
}

export interface PropertyFailure {
  violation: Violation;
  /** fast-check's seed and path: together they regenerate the shrunk counterexample. */
  fcSeed: number;
  fcPath: string;
  /** Generated schedules that ran before the first failure (that one included). */
  numRuns: number;
  numShrinks: number;
  /** Events of the first failing schedule, and of the shrunk one. */
  firstEvents: number;
  events: number;
  traceHash: string;
  replayFile: string;
  shrinkSeconds: number;
}

export interface PropertyResult {
  ok: boolean;
  numRuns: number;
  seconds: number;
  failure?: PropertyFailure;
}

/** One generated run: a seed for the network's random decisions, and the schedule. */
export interface GeneratedRun {
  netSeed: number;
  events: ScheduleEvent[];
}

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'sim';

/**
 * fast-check's arbitrary of a simulation's schedules: app operations (the simulation's own
 * workload, fed by fast-check integers instead of the seed's stream, so shrinking them makes
 * simpler operations: first choices, low numbers), syncs and, optionally, events of the fault
 * modules on in the config. fast-check shrinks by dropping events and lowering the draws.
 */
export function simulationSchedule(sim: Simulation, config: SimConfig, o: { maxEvents?: number; faults?: boolean; draws?: number } = {}): fc.Arbitrary<ScheduleEvent[]> {
  const t = fc.integer({ min: 0, max: config.steps * config.stepMs });
  const client = fc.integer({ min: 0, max: config.clients - 1 });
  const drawCount = o.draws ?? 16;
  const operation = fc.record({ t, client, draws: fc.array(fc.nat(), { minLength: drawCount, maxLength: drawCount }) }).map(({ t, client, draws }): ScheduleEvent => {
    const op = sim.workload(drawsRandom(draws), { client, clients: config.clients, step: -1, t });
    if (op === null) return { t, kind: 'sync', client };
    const def = sim.mutators[op.name];
    if (!def) throw new Error(`simulation ${sim.name}: the workload drew mutator "${op.name}", which is not in its mutators (${Object.keys(sim.mutators).join(', ')})`);
    const parsed = def.args.safeParse(op.args);
    if (!parsed.success) throw new Error(`simulation ${sim.name}: the workload drew invalid args for "${op.name}" ${JSON.stringify(op.args)}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    return { t, kind: 'mutate', client, name: op.name, args: op.args };
  });
  const sync = fc.record({ t, kind: fc.constant('sync' as const), client });
  // Only the fault kinds the profile turns on: a kind off in every profile (a known defect) stays off here too.
  const faults = o.faults === false ? [] : (faultModules as readonly AnyFaultModule[]).filter((m) => ((config.faults as Record<string, number>)[m.rate] ?? 0) > 0);
  const event: fc.Arbitrary<ScheduleEvent> = fc.oneof(
    { weight: 8, arbitrary: operation },
    { weight: 3, arbitrary: sync },
    ...faults.map((m) => ({ weight: 1, arbitrary: m.arbitrary(fc, t, client) as fc.Arbitrary<ScheduleEvent> })),
  );
  return fc.array(event, { minLength: 1, maxLength: o.maxEvents ?? 40 }).map((es) => [...es].sort((a, b) => a.t - b.t));
}

/**
 * A fast-check property over a simulation: every generated schedule (see simulationSchedule)
 * must converge with every invariant holding. The first failure is shrunk by fast-check within
 * the budget; the shrunk counterexample is run again and written as a replay file.
 */
export async function checkSimulationProperty(sim: Simulation, o: PropertyOptions = {}): Promise<PropertyResult> {
  const t0 = performance.now();
  const env = o.env ?? process.env;
  const where: { file?: string; export?: string } = o.file ? parseSimArg(o.file) : { file: sim.file };
  const ref = registerSimulation(sim, simulationRef(sim, where.file, where.export));
  const scenario = withSimulationFaults(undefined, sim);
  const profile = o.profile ?? (scenario.profile === 'swarm' || !scenario.profile ? 'chaos' : scenario.profile);
  if ((profile as string) === 'swarm') throw new Error('simulationProperty: the swarm profile draws its mix from the seed; give a fixed profile');
  const configOf = (netSeed: number) => buildConfig({ seed: `prop-${netSeed}`, clients: o.clients, profile, server: o.server, scenario, simulation: ref });
  const base = configOf(0);
  const runs = fc.record({ netSeed: fc.nat({ max: 1_000_000 }), events: simulationSchedule(sim, base, o) });
  const fcSeed = env.LOCKSTEP_FC_SEED ? Number(env.LOCKSTEP_FC_SEED) : (o.seed ?? 1);
  const path = env.LOCKSTEP_FC_PATH ?? o.path;
  const numRuns = env.LOCKSTEP_PROPERTY_RUNS ? Number(env.LOCKSTEP_PROPERTY_RUNS) : (o.numRuns ?? 20);
  const budgetMs = (o.shrinkBudgetSeconds ?? 60) * 1000;
  const stores = await openStores(o.server ?? 'pglite');
  let firstFailureAt: number | undefined;
  let firstEvents = 0;
  const run = (g: GeneratedRun) => runSimulation({ ...base, seed: `prop-${g.netSeed}` }, stores, { schedule: g.events, simulation: sim });
  try {
    const details = await fc.check(
      fc.asyncProperty(runs, async (g) => {
        // Past the shrink budget, candidates count as passing unrun: fast-check keeps the smallest failure found so far.
        if (firstFailureAt !== undefined && performance.now() - firstFailureAt > budgetMs) return true;
        const r = await run(g);
        if (r.verdict === 'converged') return true;
        if (firstFailureAt === undefined) [firstFailureAt, firstEvents] = [performance.now(), g.events.length];
        throw new Error(r.violations.slice(0, 3).map((v) => `${v.checker}: ${v.message}`).join('\n'));
      }),
      { numRuns, seed: fcSeed, ...(path ? { path } : {}), ...(budgetMs === 0 ? { endOnFailure: true } : {}) },
    );
    const seconds = () => +((performance.now() - t0) / 1000).toFixed(1);
    if (!details.failed || !details.counterexample) {
      if (details.failed) throw new Error(`simulationProperty(${sim.name}): fast-check failed without a counterexample: ${String(details.errorInstance ?? 'too many skipped runs')}`);
      return { ok: true, numRuns: details.numRuns, seconds: seconds() };
    }
    const [g] = details.counterexample;
    const r = await run(g);
    const replayFile = join(o.outDir ?? join('reports', 'sim-tests', slug(o.label ?? sim.name)), `fc-${fcSeed}.min.json`);
    writeReplayFile(replayFile, toReplayFile(r as RunResult));
    const violation = r.violations[0] ?? { checker: 'fast-check', message: String((details.errorInstance as Error | undefined)?.message ?? details.errorInstance) };
    return {
      ok: false,
      numRuns: details.numRuns,
      seconds: seconds(),
      failure: {
        violation, fcSeed, fcPath: details.counterexamplePath ?? '', numRuns: details.numRuns, numShrinks: details.numShrinks, firstEvents, events: g.events.length, traceHash: r.traceHash, replayFile,
        shrinkSeconds: firstFailureAt === undefined ? 0 : +((performance.now() - firstFailureAt) / 1000).toFixed(1),
      },
    };
  } finally {
    await stores.close();
  }
}

