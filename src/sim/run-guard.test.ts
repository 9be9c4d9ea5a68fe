/**
 * A seed that does not finish is a seed-timeout finding of that seed, saved as a replay, and the
 * sweep goes on: a task that awaits a promise that never settles (the wall-clock stall guard), a
 * task that sleeps forever (the virtual-time budget, replayed exactly) and one that yields forever
 * at one instant (the step budget); in this process and in a worker process.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig, type ConfigInput } from './scenario.ts';
import { readReplayFile } from './replay-file.ts';
import { runSimulation } from './run.ts';
import { runSweep, seedList, sweepWith, type SweepOptions } from './sweep.ts';
import { seedPlan } from './parallel/shard.ts';
import { workerPool } from './parallel/pool.ts';
import type { Report } from './report/schema.ts';
import { useSimStores } from '../../test/support/sim-stores.ts';

const getStores = useSimStores();
const tmp = () => mkdtempSync(join(tmpdir(), 'lockstep-guard-'));
const input: Omit<ConfigInput, 'seed'> = { steps: 20, clients: 2, profile: 'swarm', budget: { maxSteps: 200_000, maxVirtualMs: 600_000 } };
const configFor = (seed: string) => buildConfig({ ...input, seed });
const options = (outDir: string): SweepOptions => ({ outDir, checkDeterminism: false, shrink: false, shrinkBudgetMs: 10_000, configFor, stallMs: 1_500 });

afterEach(() => {
  delete process.env.LOCKSTEP_TEST_HANG;
});

/** Seed 2 hangs: it is a seed-timeout with a replay file, seeds 1 and 3 ran and converged. */
function expectTimedOutSeed2(report: Report, message: RegExp): void {
  expect(report.seeds.map((s) => `${s.seed} ${s.verdict}`)).toEqual(['1 converged', '2 violation', '3 converged']);
  const v = report.seeds[1]!.violations[0]!;
  expect(v.checker).toBe('seed-timeout');
  expect(v.message).toMatch(message);
  expect(v.message).toMatch(/virtual ms after \d+ steps; tasks \(\d+\): .*test-hang/);
  expect(v.message).toMatch(/last events: \d+ \w+ /);
  expect(existsSync(report.seeds[1]!.replayFile!)).toBe(true);
}

describe('seed guard', () => {
  it('a seed that awaits a promise that never settles is a stalled seed-timeout; the sweep goes on', async () => {
    process.env.LOCKSTEP_TEST_HANG = '2:stall';
    const report = await runSweep(configFor('1'), seedList('1', 3), getStores(), options(tmp()));
    expectTimedOutSeed2(report, /no scheduler step for 2 s of wall clock .*sim:test-hang stall running/);
  }, 120_000);

  it('a seed that sleeps forever hits the virtual-time budget, and its replay is exact', async () => {
    process.env.LOCKSTEP_TEST_HANG = '2:sleep';
    const report = await runSweep(configFor('1'), seedList('1', 3), getStores(), options(tmp()));
    expectTimedOutSeed2(report, /virtual time limit 600000 ms reached \(config\.budget/);
    const replay = readReplayFile(report.seeds[1]!.replayFile!);
    const again = await runSimulation(replay.config, getStores(), { schedule: replay.schedule });
    expect([again.traceHash, again.violations[0]?.checker]).toEqual([replay.expected.traceHash, 'seed-timeout']);
  }, 120_000);

  it('a seed that yields forever at one instant hits the step budget', async () => {
    process.env.LOCKSTEP_TEST_HANG = '2:spin';
    const report = await runSweep(configFor('1'), seedList('1', 3), getStores(), options(tmp()));
    expectTimedOutSeed2(report, /step limit 200000 reached/);
  }, 120_000);

  it('in a worker process too: the stalled seed is a finding and the worker runs the next seed', async () => {
    process.env.LOCKSTEP_TEST_HANG = '2:stall';
    const pool = await workerPool(1, { input });
    try {
      const report = await sweepWith(pool, seedPlan('1', 3), configFor, options(tmp()));
      expectTimedOutSeed2(report, /no scheduler step for 2 s of wall clock/);
    } finally {
      await pool.close();
    }
  }, 120_000);
});
