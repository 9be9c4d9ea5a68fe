import { relative } from 'node:path';
import { expect, it } from 'vitest';
import { checkSimulation, type CheckOptions, type CheckResult } from './check.ts';
import { checkSimulationProperty, type PropertyOptions, type PropertyResult } from './property.ts';
import type { Simulation } from './types.ts';

// How to call the CLI in printed commands: from this repository's sources, or installed.
const cli = import.meta.url.endsWith('.ts') ? 'npm run sim --' : 'npx lockstep';

export interface SimulationTestOptions extends CheckOptions {
  /** Vitest timeout in ms (default 10 minutes: seeds plus shrinking). */
  timeout?: number;
}

/**
 * One vitest test that runs a simulation's seeds (LOCKSTEP_SEED=n runs only seed n). A failing
 * seed is shrunk and the test fails with the violation, the shrunk replay file and the commands
 * that replay it and reproduce it in the test runner.
 */
export function simulationTest(name: string, sim: Simulation, options: SimulationTestOptions = {}): void {
  const { timeout, ...o } = options;
  it(name, async () => {
    const r = await checkSimulation(sim, { label: name, ...o });
    if (!r.failure) return;
    const testPath = expect.getState().testPath;
    throw new Error(failureMessage(r, testPath ? relative(process.cwd(), testPath) : '<this test file>'));
  }, timeout ?? 600_000);
}

/** The violation, the shrunk replay file, and the commands that replay it and reproduce it in vitest. */
export function failureMessage(r: CheckResult, testFile: string): string {
  const f = r.failure!;
  return [
    `${f.violation.checker}: ${f.violation.message}`,
    `seed ${f.seed} (after ${r.seedsRun} seed${r.seedsRun > 1 ? 's' : ''}), shrunk ${f.events} -> ${f.shrunkEvents} events in ${f.shrinkSeconds} s: ${f.shrunkReplayFile}`,
    `replay:    ${cli} replay ${f.shrunkReplayFile}`,
    `reproduce: LOCKSTEP_SEED=${f.seed} npx vitest run ${testFile}`,
  ].join('\n');
}

export interface SimulationPropertyOptions extends PropertyOptions {
  /** Vitest timeout in ms (default 10 minutes: runs plus shrinking). */
  timeout?: number;
}

/**
 * One vitest test: a fast-check property over the simulation's generated schedules (see
 * simulationSchedule). A failure is shrunk by fast-check and the test fails with the violation,
 * fast-check's seed and path, the counterexample's replay file and the command that reproduces it.
 */
export function simulationProperty(name: string, sim: Simulation, options: SimulationPropertyOptions = {}): void {
  const { timeout, ...o } = options;
  it(name, async () => {
    const r = await checkSimulationProperty(sim, { label: name, ...o });
    if (!r.failure) return;
    const testPath = expect.getState().testPath;
    throw new Error(propertyFailureMessage(r, testPath ? relative(process.cwd(), testPath) : '<this test file>', name));
  }, timeout ?? 600_000);
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The violation, fast-check's seed and path, the replay file and the commands that replay and reproduce it. */
export function propertyFailureMessage(r: PropertyResult, testFile: string, testName?: string): string {
  const f = r.failure!;
  return [
    `${f.violation.checker}: ${f.violation.message}`,
    `fast-check seed ${f.fcSeed}, path "${f.fcPath}": failed after ${f.numRuns} generated schedule${f.numRuns > 1 ? 's' : ''}, shrunk ${f.numShrinks} time${f.numShrinks === 1 ? '' : 's'} in ${f.shrinkSeconds} s from ${f.firstEvents} to ${f.events} events: ${f.replayFile}`,
    `replay:    ${cli} replay ${f.replayFile}`,
    `reproduce: LOCKSTEP_FC_SEED=${f.fcSeed} LOCKSTEP_FC_PATH=${shellQuote(f.fcPath)} npx vitest run ${testFile}${testName ? ` -t ${shellQuote(testName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))}` : ''}`,
  ].join('\n');
}
