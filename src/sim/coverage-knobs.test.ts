import { describe, expect, it } from 'vitest';
import { runSimulation } from './run.ts';
import { buildConfig, configForSeed } from './scenario.ts';
import { profiles } from './config.ts';
import { useSimStores } from '../../test/support/sim-stores.ts';

const getStores = useSimStores();

/** A quiet run (no faults) with only the coverage knobs' work on top of the chaos profile's sizes. */
function quiet(knobs: { boundaryRate?: number; doorRate?: number; appReads?: boolean; appScreens?: boolean; mistakeRate?: number; flushIntervalMs?: number }) {
  const base = buildConfig({ seed: 'knobs', profile: 'none', clients: 3, steps: 80 });
  return { ...base, wide: { ...profiles.chaos.wide!, hostileRate: 0, intruderRate: 0, failingRate: 0, bigDocRate: 0, ...knobs } };
}

describe('coverage knobs (coverage-knobs.ts)', () => {
  it('are drawn after every other draw: a seed that draws them off has the mix it had before them', () => {
    // Seeds 13, 14, 17 draw none of them; their trace hashes on main were 72ff0b36…, fa6afc66…, a0198b4f….
    for (const seed of ['13', '14', '17']) {
      const w = configForSeed(buildConfig({ seed, profile: 'swarm' }), seed).wide!;
      expect([w.boundaryRate, w.doorRate, w.appReads]).toEqual([undefined, undefined, undefined]);
    }
  });

  it('the knobs appended later are drawn after those: seeds that draw them off keep their mix too', () => {
    // Seeds 19, 31 and 33 draw none of appScreens, mistakeRate, applyChunkBytes or the tight rate limit.
    for (const seed of ['19', '31', '33']) {
      const c = configForSeed(buildConfig({ seed, profile: 'swarm' }), seed);
      const w = c.wide!;
      expect([w.appScreens, w.mistakeRate, w.applyChunkBytes, c.serverProcess?.http?.syncPerSecond]).toEqual([undefined, undefined, undefined, undefined]);
    }
  });

  it('hostile boundary requests are refused whole (4xx) or recorded as failed, and nothing of them is applied', async () => {
    const r = await runSimulation(quiet({ boundaryRate: 0.1 }), getStores());
    expect(r.verdict, r.violations.map((v) => v.message).join('\n')).toBe('converged');
    const answers = r.trace.map((e) => (e.kind === 'intrude-answer' ? (e.detail ?? '') : '')).filter((d) => d.startsWith('boundary '));
    const requests = answers.filter((d) => !d.startsWith('boundary mutations'));
    expect(requests.length).toBeGreaterThan(0);
    // A cookie of an epoch the database never had (a NUL in it) is ClientStateNotFound, which the protocol answers with 200.
    for (const d of requests) expect(d, d).toMatch(d.startsWith('boundary cookie-nul-epoch') ? / 200$/ : / 4\d\d$/);
    for (const d of answers.filter((d) => d.startsWith('boundary mutations'))) expect(d).toMatch(/ 200$/);
  }, 120_000);

  it('clients syncing through the server-function door and an app reading like useSyncState converge', async () => {
    const r = await runSimulation(quiet({ doorRate: 1, appReads: true }), getStores());
    expect(r.verdict, r.violations.map((v) => v.message).join('\n')).toBe('converged');
    expect(r.trace.some((e) => e.kind === 'push-recv' || e.kind === 'pull-recv')).toBe(true);
  }, 120_000);

  it("an app's mistakes in documents (a Date, undefined, a BigInt) are refused and queue nothing; more screens converge, deferred too", async () => {
    const r = await runSimulation(quiet({ appScreens: true, mistakeRate: 0.1, flushIntervalMs: 50 }), getStores());
    expect(r.verdict, r.violations.map((v) => v.message).join('\n')).toBe('converged');
    const refused = r.trace.filter((e) => e.kind === 'refused').map((e) => e.detail ?? '');
    for (const kind of ['date', 'undefined', 'bigint']) expect(refused.some((d) => d.startsWith(`${kind}:`)), kind).toBe(true);
    expect(r.trace.some((e) => e.kind === 'hostile-accepted')).toBe(false);
  }, 120_000);
});

describe('the app knobs (drawAppCoverageKnobs, drawn last)', () => {
  it('are drawn after every other draw: each knob is drawn on in some seeds and the seeds that draw them off keep their mix', () => {
    const draws = Array.from({ length: 40 }, (_, i) => configForSeed(buildConfig({ seed: String(i + 1), profile: 'swarm' }), String(i + 1)).wide!);
    expect(draws.filter((w) => w.ledgerRate).length).toBeGreaterThan(5);
    expect(draws.filter((w) => w.appLifecycle).length).toBeGreaterThan(5);
    expect(draws.filter((w) => w.maxUnflushedWrites).length).toBeGreaterThan(2);
    for (const w of draws) if (w.maxUnflushedWrites) expect(w.flushIntervalMs).toBeDefined();
  });

  it('the app\'s lifecycle: a loop started twice, a replaced engine\'s screen unmounted, closed twice and written to after close (refused), a re-registration after each reset, a "sync now" beside the loop, a query with a negative limit and misconfigured opens and starts refused: converges', async () => {
    const base = quiet({ flushIntervalMs: 30 });
    const config = { ...base, steps: 160, faults: { ...base.faults, clientCrash: 0.06, storageLoss: 0.03 }, wide: { ...base.wide, appLifecycle: true, maxUnflushedWrites: 1, ledgerRate: 0.2 } };
    const r = await runSimulation(config, getStores());
    expect(r.verdict, r.violations.map((v) => `${v.checker}: ${v.message}`).join('\n')).toBe('converged');
    expect(r.stats.faults['app-closed-twice'] ?? 0, JSON.stringify(r.stats.faults)).toBeGreaterThan(0);
    expect(r.stats.faults['token-refreshed'] ?? 0, JSON.stringify(r.stats.faults)).toBeGreaterThan(0);
    expect(r.stats.faults['app-sync-now'] ?? 0).toBeGreaterThan(0);
    // Three configuration mistakes per engine opened (two opens, a start), each refused (else a violation above).
    expect(r.stats.faults['app-misconfigured'] ?? 0).toBeGreaterThanOrEqual(9);
  }, 180_000);
});
