/**
 * The README's quick start through the public API only: every vote counts on seeds and on
 * fast-check schedules; with VOTES_BUG set (a repeated vote taken for a retry) both catch it.
 */
import { afterEach, expect, it } from 'vitest';
import { checkSimulation, checkSimulationProperty } from 'lockstep/sim';
import { simulationProperty, simulationTest } from 'lockstep/sim/vitest';
import votes from './votes.sim.ts';

simulationTest('every vote counts', votes, { seeds: 3, steps: 60, clients: 4 });
simulationProperty('every vote counts on fast-check schedules', votes, { numRuns: 4, maxEvents: 30, clients: 4 });

// The mutator reads VOTES_BUG when it runs, in this process (no workers here).
afterEach(() => {
  delete process.env.VOTES_BUG;
});

it('catches VOTES_BUG on seeds and on fast-check schedules', async () => {
  process.env.VOTES_BUG = '1';
  const seeds = await checkSimulation(votes, { seeds: 10, steps: 60, clients: 4, shrinkBudgetSeconds: 0, outDir: 'reports/sim-tests/votes-bug', env: {} });
  expect(seeds.failure?.violation.checker).toBe('votes/every-vote-counts');
  const prop = await checkSimulationProperty(votes, { numRuns: 20, maxEvents: 30, clients: 4, shrinkBudgetSeconds: 10, outDir: 'reports/sim-tests/votes-property-bug', env: {} });
  const f = prop.failure!;
  expect(f, 'VOTES_BUG escaped 20 generated schedules').toBeDefined();
  expect(f.violation.checker).toBe('votes/every-vote-counts');
  expect(f.violation.message).toMatch(/^\d+ votes cast, \d+ counted$/);
  expect(f.events).toBeLessThanOrEqual(f.firstEvents);
  console.log(`votes bug: seed ${seeds.failure!.seed} in ${seeds.seconds} s; fast-check after ${f.numRuns} schedules, shrunk from ${f.firstEvents} to ${f.events} events in ${f.shrinkSeconds} s`);
});
