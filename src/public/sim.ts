/**
 * `lockstep/sim`: the deterministic simulator as a library: one seeded run, a sweep over seeds
 * (serial or on worker processes), replay files, shrinking, reports and merging shard reports.
 */
export { runSimulation, hashTrace, type RunResult, type RunStats } from '../sim/run.ts';
export { buildConfig, loadScenario, scenarioSchema, UsageError, type ConfigInput, type Scenario } from '../sim/scenario.ts';
export { profiles, profileNames, simConfigSchema, type SimConfig, type ProfileName } from '../sim/config.ts';
export { openStores } from '../sim/stores.ts';
export type { Stores } from '../sim/world.ts';
export { runSweep, seedList, firstTraceDifference, type SweepOptions } from '../sim/sweep.ts';
export { readReplayFile, writeReplayFile, toReplayFile, replayFileSchema, type ReplayFile } from '../sim/replay-file.ts';
export { shrink, type ShrinkOutcome, type ShrinkStep } from '../sim/shrink.ts';
export { reportSchema, type Report, type SeedReport } from '../sim/report/schema.ts';
export { bugs } from '../sim/bugs/index.ts';
export { sweepWith, seedAt, planOf, type SeedPlan } from '../sim/sweep.ts';
export { localRunner, runSeed, shrinkSeed, type SeedRunner, type SeedOutcome, type ShrunkOutcome } from '../sim/parallel/seed-runner.ts';
export { workerPool, defaultWorkers } from '../sim/parallel/pool.ts';
export { parseShard, seedPlan, type Shard } from '../sim/parallel/shard.ts';
export { mergeReportDirs } from '../sim/report/merge.ts';
// The simulation API for app code: describe your mutators, workload and invariants in one module.
export { defineSimulation, isSimulation } from '../sim/app/define.ts';
export { checkSimulation, type CheckOptions, type CheckResult, type CheckFailure } from '../sim/app/check.ts';
export { importSimulation, registerSimulation, simulationRef } from '../sim/app/load.ts';
export { withSimulationFaults } from '../sim/app/config.ts';
export type { Simulation, SimulationSpec, SimulationRef, Operation, WorkloadRandom, WorkloadContext, Invariant, InvariantResult, FinalView, ClientView, EntitiesView, Doc, SimulationFaults } from '../sim/app/types.ts';
export type { MutatorModel, ModelState, ModelOutcome } from '../sim/checkers/model-mutators.ts';
export { defineMutator, type MutatorRegistry } from '../protocol/index.ts';
export { checkSimulationProperty, simulationSchedule, type PropertyOptions, type PropertyResult, type PropertyFailure, type GeneratedRun } from '../sim/app/property.ts';
