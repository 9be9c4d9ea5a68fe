/**
 * The bank through the public API only: correct transfers keep every invariant (seeds on two
 * worker processes); the planted double spend (the overdraft check runs only on the client) is
 * caught, shrunk and replayed; workers give the serial result. fast-check: bank-property.test.ts.
 */
import { expect, it } from 'vitest';
import { checkSimulation, openStores, readReplayFile, runSimulation } from 'lockstep/sim';
import { simulationTest } from 'lockstep/sim/vitest';
import bank, { buggy } from './bank.sim.ts';

simulationTest('bank keeps the money', bank, { seeds: 4, workers: 2 });

it('catches the planted double spend within 50 seeds, shrinks it to <= 12 events and replays it exactly', async () => {
  // Runs of 60 steps and 3 clients: every shrink trial is a full run, so shorter runs reach the
  // fixed point (2-3 events) in ~40 cheap trials instead of spending the budget on 120-step, 4-client ones.
  const r = await checkSimulation(buggy, { seeds: 50, steps: 60, clients: 3, file: 'examples/bank/bank.sim.ts#buggy', outDir: 'reports/sim-tests/bank-bug', shrinkBudgetSeconds: 60, env: {} });
  const f = r.failure!;
  expect(f, 'the planted bug escaped 50 seeds').toBeDefined();
  expect(f.violation.checker).toMatch(/^bank\/(no-overdraft|conservation)$|^model$/);
  expect(f.shrunkEvents).toBeLessThanOrEqual(12);
  const replay = readReplayFile(f.shrunkReplayFile);
  expect(replay.config.simulation).toEqual({ name: 'bank', version: 1, file: 'examples/bank/bank.sim.ts', export: 'buggy' });
  const stores = await openStores('pglite');
  try {
    const again = await runSimulation(replay.config, stores, { schedule: replay.schedule });
    expect(again.traceHash).toBe(replay.expected.traceHash);
    expect(again.violations[0]?.checker).toBe(f.violation.checker);
    // Another version of the simulation refuses the file, saying which is which.
    await expect(runSimulation({ ...replay.config, simulation: { ...replay.config.simulation!, version: 99 } }, stores, { schedule: replay.schedule })).rejects.toThrow(/recorded with simulation bank version 99; .* is bank version 1/);
  } finally {
    await stores.close();
  }
  console.log(`bank planted bug: caught at seed ${f.seed} after ${r.seedsRun} seeds in ${r.seconds} s (${f.violation.checker}), shrunk ${f.events} -> ${f.shrunkEvents} events in ${f.shrinkSeconds} s, replay exact (${replay.expected.traceHash})`);
});

it('runs seeds on two workers with the serial result: the same first failing seed, trace hash and violation', async () => {
  // Short runs of two clients, both seeds at once on two workers: the result must be the serial one.
  const o = { seed: 3, seeds: 2, steps: 15, clients: 2, shrinkBudgetSeconds: 0, file: 'examples/bank/bank.sim.ts#buggy', env: {} };
  const serial = await checkSimulation(buggy, { ...o, workers: 1, outDir: 'reports/sim-tests/bank-serial' });
  const parallel = await checkSimulation(buggy, { ...o, workers: 2, outDir: 'reports/sim-tests/bank-workers' });
  // Which of the two seeds fails first moves with the engine; the parallel run must give the serial answer.
  expect(serial.failure).toBeDefined();
  const same = (r: typeof serial) => ({ seedsRun: r.seedsRun, seed: r.failure?.seed, traceHash: r.failure?.traceHash, events: r.failure?.events, violation: r.failure?.violation.message });
  expect(same(parallel)).toEqual(same(serial));
  expect(readReplayFile(parallel.failure!.replayFile)).toEqual(readReplayFile(serial.failure!.replayFile));
});
