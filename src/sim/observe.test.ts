/**
 * Live checking reads the databases outside the scheduler, so how often a run is checked never
 * changes its trace; and the model oracle sees a shared mutator bug that convergence cannot.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runSimulation } from './run.ts';
import { buildConfig } from './scenario.ts';
import type { Stores } from './world.ts';
import { useSimStores } from '../../test/support/sim-stores.ts';

const getStores = useSimStores();
let stores: Stores;
beforeAll(() => {
  stores = getStores();
});

describe('observation', () => {
  it.each(['obs-1', 'obs-2'])('seed %s has the same trace hash with rebaseCheckRate 0 and 1', async (seed) => {
    const base = buildConfig({ seed, profile: 'swarm', steps: 150, clients: 4 });
    const never = await runSimulation({ ...base, rebaseCheckRate: 0 }, stores);
    const always = await runSimulation({ ...base, rebaseCheckRate: 1 }, stores);
    expect(never.verdict).toBe('converged');
    expect(always.verdict).toBe('converged');
    expect(always.traceHash).toBe(never.traceHash);
  }, 120_000);

  it('the rebase and snapshot checkers still find what they find during the run (no-rebase, timestamp-cookie)', async () => {
    for (const [bug, checker] of [['no-rebase', 'rebase'], ['timestamp-cookie', 'snapshot']] as const) {
      let found = false;
      for (let seed = 1; seed <= 15 && !found; seed++) {
        const r = await runSimulation({ ...buildConfig({ seed: String(seed), profile: 'swarm', bug, steps: 100 }), rebaseCheckRate: 1, healBudgetMs: 20_000 }, stores);
        found = r.violations.some((v) => v.checker === checker);
      }
      expect(found, `${checker} never fired on ${bug}`).toBe(true);
    }
  }, 300_000);
});

describe('model oracle', () => {
  it('catches upsert-merges, which convergence and log replay cannot see', async () => {
    const r = await runSimulation(buildConfig({ seed: '1', profile: 'swarm', bug: 'upsert-merges' }), stores);
    const checkers = new Set(r.violations.map((v) => v.checker));
    expect(checkers.has('model')).toBe(true);
    expect(checkers.has('convergence')).toBe(false);
    expect(checkers.has('log-replay')).toBe(false);
  }, 120_000);
});
