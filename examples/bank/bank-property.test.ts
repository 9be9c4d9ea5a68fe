/**
 * The bank under fast-check through the public API only: generated schedules of correct transfers
 * keep every invariant; the planted double spend is caught, shrunk by fast-check, its replay file
 * replays exactly, and fast-check's seed and path regenerate the counterexample.
 */
import { expect, it } from 'vitest';
import { checkSimulationProperty, openStores, readReplayFile, runSimulation } from 'lockstep/sim';
import { propertyFailureMessage, simulationProperty } from 'lockstep/sim/vitest';
import bank, { buggy } from './bank.sim.ts';

simulationProperty('bank keeps the money on fast-check schedules', bank, { numRuns: 4, maxEvents: 30 });

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
  const msg = propertyFailureMessage(r, 'examples/bank/bank-property.test.ts', 'bank (fast-check)');
  expect(msg).toContain(`fast-check seed 1, path "${f.fcPath}"`);
  expect(msg).toContain(`replay:    npm run sim -- replay ${f.replayFile}`);
  expect(msg).toContain(`LOCKSTEP_FC_SEED=1 LOCKSTEP_FC_PATH='${f.fcPath}' npx vitest run examples/bank/bank-property.test.ts -t 'bank \\(fast-check\\)'`);
  console.log(`bank planted bug under fast-check: caught after ${f.numRuns} schedules, shrunk ${f.numShrinks} times in ${f.shrinkSeconds} s from ${f.firstEvents} to ${f.events} events, ${r.seconds} s in all, replay exact (${f.traceHash})`);
});
