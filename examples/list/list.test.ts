/**
 * The ordered list through the public API only: insert, move and remove keep one order on every
 * client; the planted stale-neighbour move is caught, shrunk and replayed.
 */
import { expect, it } from 'vitest';
import { checkSimulation, openStores, readReplayFile, runSimulation } from 'lockstep/sim';
import { simulationTest } from 'lockstep/sim/vitest';
import list, { buggy } from './list.sim.ts';

simulationTest('list keeps one order', list, { seeds: 5 });

it('catches the planted stale-neighbour move within 50 seeds, shrinks it to <= 12 events and replays it exactly', async () => {
  const r = await checkSimulation(buggy, { seeds: 50, file: 'examples/list/list.sim.ts#buggy', outDir: 'reports/sim-tests/list-bug', shrinkBudgetSeconds: 60, env: {} });
  const f = r.failure!;
  expect(f, 'the planted bug escaped 50 seeds').toBeDefined();
  expect(f.violation.checker).toBe('list/same-order');
  expect(f.shrunkEvents).toBeLessThanOrEqual(12);
  const replay = readReplayFile(f.shrunkReplayFile);
  const stores = await openStores('pglite');
  try {
    const again = await runSimulation(replay.config, stores, { schedule: replay.schedule });
    expect(again.traceHash).toBe(replay.expected.traceHash);
    expect(again.violations[0]?.checker).toBe('list/same-order');
  } finally {
    await stores.close();
  }
  console.log(`list planted bug: caught at seed ${f.seed} after ${r.seedsRun} seeds in ${r.seconds} s (${f.violation.checker}), shrunk ${f.events} -> ${f.shrunkEvents} events in ${f.shrinkSeconds} s, replay exact (${replay.expected.traceHash})`);
});
