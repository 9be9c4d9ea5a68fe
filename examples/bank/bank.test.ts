/**
 * The bank through the public API only: correct transfers keep every invariant, on seeds (on two
 * worker processes) and on fast-check schedules; the planted double spend (the overdraft check
 * runs only on the client) is caught, shrunk and replayed both ways; workers give the serial result.
 */
import { expect, it } from 'vitest';
import { checkSimulation, checkSimulationProperty, openStores, readReplayFile, runSimulation } from 'lockstep/sim';
import { propertyFailureMessage, simulationProperty, simulationTest } from 'lockstep/sim/vitest';
import bank, { buggy } from './bank.sim.ts';

simulationTest('bank keeps the money', bank, { seeds: 4, workers: 2 });
simulationProperty('bank keeps the money on fast-check schedules', bank, { numRuns: 4, maxEvents: 30 });

it('catches the planted double spend within 50 seeds, shrinks it to <= 12 events and replays it exactly', async () => {
  const r = await checkSimulation(buggy, { seeds: 50, file: 'examples/bank/bank.sim.ts#buggy', outDir: 'reports/sim-tests/bank-bug', shrinkBudgetSeconds: 60, env: {} });
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
  // Short runs of two clients: seed 3 converges, seed 4 overdraws; on two workers both run at once, and the result must be the serial one.
  const o = { seed: 3, seeds: 2, steps: 15, clients: 2, shrinkBudgetSeconds: 0, file: 'examples/bank/bank.sim.ts#buggy', env: {} };
  const serial = await checkSimulation(buggy, { ...o, workers: 1, outDir: 'reports/sim-tests/bank-serial' });
  const parallel = await checkSimulation(buggy, { ...o, workers: 2, outDir: 'reports/sim-tests/bank-workers' });
  expect(serial.failure?.seed).toBe('4');
  expect(serial.seedsRun).toBe(2);
  const same = (r: typeof serial) => ({ seedsRun: r.seedsRun, seed: r.failure?.seed, traceHash: r.failure?.traceHash, events: r.failure?.events, violation: r.failure?.violation.message });
  expect(same(parallel)).toEqual(same(serial));
  expect(readReplayFile(parallel.failure!.replayFile)).toEqual(readReplayFile(serial.failure!.replayFile));
});

it('fast-check catches the planted double spend, shrinks it and the replay file replays it exactly', async () => {
  const r = await checkSimulationProperty(buggy, { numRuns: 20, maxEvents: 30, shrinkBudgetSeconds: 15, file: 'examples/bank/bank.sim.ts#buggy', outDir: 'reports/sim-tests/bank-property-bug', env: {} });
  const f = r.failure!;
  expect(f, 'the planted bug escaped 20 generated schedules').toBeDefined();
  expect(f.violation.checker).toMatch(/^bank\/(no-overdraft|conservation)$|^model$/);
  expect(f.events).toBeLessThanOrEqual(f.firstEvents);
  const replay = readReplayFile(f.replayFile);
  expect(replay.config.simulation).toEqual({ name: 'bank', version: 1, file: 'examples/bank/bank.sim.ts', export: 'buggy' });
  const stores = await openStores('pglite');
  try {
    const replayed = await runSimulation(replay.config, stores, { schedule: replay.schedule });
    expect(replayed.traceHash).toBe(f.traceHash);
    expect(replayed.violations[0]?.checker).toBe(f.violation.checker);
  } finally {
    await stores.close();
  }
  // fast-check's seed and path regenerate the shrunk counterexample (what LOCKSTEP_FC_SEED/LOCKSTEP_FC_PATH do).
  const again = await checkSimulationProperty(buggy, { maxEvents: 30, shrinkBudgetSeconds: 0, file: 'examples/bank/bank.sim.ts#buggy', outDir: 'reports/sim-tests/bank-property-path', env: { LOCKSTEP_FC_SEED: '1', LOCKSTEP_FC_PATH: f.fcPath } });
  expect(again.failure?.traceHash).toBe(f.traceHash);
  const msg = propertyFailureMessage(r, 'examples/bank/bank.test.ts', 'bank (fast-check)');
  expect(msg).toContain(`fast-check seed 1, path "${f.fcPath}"`);
  expect(msg).toContain(`replay:    npm run sim -- replay ${f.replayFile}`);
  expect(msg).toContain(`LOCKSTEP_FC_SEED=1 LOCKSTEP_FC_PATH='${f.fcPath}' npx vitest run examples/bank/bank.test.ts -t 'bank \\(fast-check\\)'`);
  console.log(`bank planted bug under fast-check: caught after ${f.numRuns} schedules, shrunk ${f.numShrinks} times in ${f.shrinkSeconds} s from ${f.firstEvents} to ${f.events} events, ${r.seconds} s in all, replay exact (${f.traceHash})`);
});
