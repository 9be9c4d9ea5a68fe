/**
 * The ordered list through the public API only: insert, move and remove keep one order on every
 * client, on seeds and on fast-check schedules; the planted stale-neighbour move is caught, shrunk
 * and replayed both ways.
 */
import { expect, it } from 'vitest';
import { checkSimulation, checkSimulationProperty, openStores, readReplayFile, runSimulation } from 'lockstep/sim';
import { simulationProperty, simulationTest } from 'lockstep/sim/vitest';
import list, { buggy } from './list.sim.ts';

simulationTest('list keeps one order', list, { seeds: 5 });
simulationProperty('list keeps one order on fast-check schedules', list, { numRuns: 4, maxEvents: 30 });

it('catches the planted stale-neighbour move within 50 seeds, shrinks it to <= 12 events and replays it exactly', async () => {
  // Runs of 60 steps and 3 clients: every shrink trial is a full run, so shorter runs reach the
  // fixed point (2-3 events) in ~40 cheap trials instead of spending the budget on 120-step, 4-client ones.
  const r = await checkSimulation(buggy, { seeds: 50, steps: 60, clients: 3, file: 'examples/list/list.sim.ts#buggy', outDir: 'reports/sim-tests/list-bug', shrinkBudgetSeconds: 60, env: {} });
  const f = r.failure!;
  expect(f, 'the planted bug escaped 50 seeds').toBeDefined();
  expect(f.violation.checker).toBe('list/same-order');
  expect(f.shrunkEvents).toBeLessThanOrEqual(12);
  const replay = readReplayFile(f.shrunkReplayFile);
  const stores = await openStores('pglite');
  try {
    const again = await runSimulation(replay.config, stores, { schedule: replay.schedule });
    expect(again.traceHash).toBe(replay.expected.traceHash);
    expect(again.violations.map((v) => v.checker)).toContain(f.violation.checker);
  } finally {
    await stores.close();
  }
  console.log(`list planted bug: caught at seed ${f.seed} after ${r.seedsRun} seeds in ${r.seconds} s (${f.violation.checker}), shrunk ${f.events} -> ${f.shrunkEvents} events in ${f.shrinkSeconds} s, replay exact (${replay.expected.traceHash})`);
});

it('fast-check catches the planted stale-neighbour move and its shrunk counterexample replays exactly', async () => {
  const r = await checkSimulationProperty(buggy, { numRuns: 20, maxEvents: 30, shrinkBudgetSeconds: 15, file: 'examples/list/list.sim.ts#buggy', outDir: 'reports/sim-tests/list-property-bug', env: {} });
  const f = r.failure!;
  expect(f, 'the planted bug escaped 20 generated schedules').toBeDefined();
  // The stale-neighbour move makes client and server place an item differently: the list's own
  // checker or convergence, whichever looks first (the correct list passes the same schedules).
  expect(f.violation.checker).toMatch(/^(list\/same-order|convergence)$/);
  expect(f.events).toBeLessThanOrEqual(f.firstEvents);
  const replay = readReplayFile(f.replayFile);
  const stores = await openStores('pglite');
  try {
    const again = await runSimulation(replay.config, stores, { schedule: replay.schedule });
    expect(again.traceHash).toBe(f.traceHash);
    expect(again.violations.map((v) => v.checker)).toContain(f.violation.checker);
  } finally {
    await stores.close();
  }
  console.log(`list planted bug under fast-check: caught after ${f.numRuns} schedules, shrunk ${f.numShrinks} times in ${f.shrinkSeconds} s from ${f.firstEvents} to ${f.events} events, ${r.seconds} s in all, replay exact (${f.traceHash})`);
});
