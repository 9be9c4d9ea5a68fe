/**
 * wide.effectBudgetBytes (coverage-knobs-server.ts): the server's per-push effect budget below
 * what big documents add up to. A push stops at a mutation boundary (the client sends the rest),
 * a mutation over the budget on its own is recorded as failed, and the run converges.
 */
import { describe, expect, it } from 'vitest';
import { runSimulation } from './run.ts';
import { buildConfig } from './scenario.ts';
import { profiles } from './config.ts';
import { useSimStores } from '../../test/support/sim-stores.ts';

const getStores = useSimStores();

describe('a per-push effect budget below big documents (wide.effectBudgetBytes)', () => {
  it('cuts pushes short, fails a mutation over it alone, and converges', async () => {
    const base = buildConfig({ seed: 'budget', profile: 'none', clients: 3, steps: 120 });
    const config = { ...base, wide: { ...profiles.chaos.wide!, hostileRate: 0, intruderRate: 0, failingRate: 0, bigDocRate: 0.5, effectBudgetBytes: 60_000 } };
    const r = await runSimulation(config, getStores());
    expect(r.verdict, r.violations.map((v) => v.message).join('\n')).toBe('converged');
    expect(r.stats.faults['push-over-effect-budget'] ?? 0).toBeGreaterThan(0);
    expect(r.stats.faults['push-cut-short'] ?? 0).toBeGreaterThan(0);
  }, 120_000);
});
