import { relative } from 'node:path';
import { expect, it } from 'vitest';
import { checkSimulation, type CheckOptions, type CheckResult } from './check.ts';
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
