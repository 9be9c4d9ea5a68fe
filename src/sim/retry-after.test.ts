/** A 429's Retry-After crosses the simulated network and the client's sync loop waits it out. */
import { describe, expect, it } from 'vitest';
import { runSimulation } from './run.ts';
import { buildConfig } from './scenario.ts';
import { useSimStores } from '../../test/support/sim-stores.ts';

const getStores = useSimStores();

describe('Retry-After over the simulated network', () => {
  it('after a 429 with Retry-After, a client sends no push or pull before the time the server asked for', async () => {
    // One request a second per token, bursts of 2: a sync run (push, pull) and a poke run into it.
    const config = { ...buildConfig({ seed: 'retry-after', profile: 'none', clients: 3, steps: 80 }), serverProcess: { http: { syncPerSecond: 1, syncBurst: 2 } } };
    const r = await runSimulation(config, getStores());
    expect(r.verdict, r.violations.map((v) => v.message).join('\n')).toBe('converged');
    const limited = r.trace.filter((e) => e.kind === 'sync-error' && /retry in (\d+) s/.test(e.detail ?? ''));
    expect(limited.length).toBeGreaterThan(0);
    for (const e of limited) {
      const wait = Number(/retry in (\d+) s/.exec(e.detail!)![1]) * 1000;
      const next = r.trace.find((x) => x.lane === e.lane && x.t > e.t && (x.kind === 'push-send' || x.kind === 'pull-send'));
      if (next) expect(next.t - e.t, `${e.lane} at ${e.t}: sent again at ${next.t}`).toBeGreaterThanOrEqual(wait);
    }
  }, 120_000);
});
