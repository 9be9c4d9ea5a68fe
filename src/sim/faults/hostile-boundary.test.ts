/**
 * wide.boundaryAbuse (coverage-knobs-server.ts): the hostile boundary's 'request' ops also knock on
 * every door the wrong way. Each request must get its own status and nothing may be written.
 */
import { describe, expect, it } from 'vitest';
import { runSimulation } from '../run.ts';
import { buildConfig, configForSeed } from '../scenario.ts';
import { profiles } from '../config.ts';
import type { WideWorkload } from '../wide-workload.ts';
import { useSimStores } from '../../../test/support/sim-stores.ts';

const getStores = useSimStores();

const expected: Record<string, string> = {
  'no-token': '401',
  'basic-auth': '401',
  'unknown-token': '401',
  'pull-version': '400',
  'origin-clients': '400',
  'server-fn-over': '413',
  'chunked-over': '413',
  'register-not-json': '400',
  'register-not-object': '400',
  'register-token-taken': '409',
  'poke-no-token': '401',
  'poke-unknown-token': '401',
  'poke-left': '200',
  'poke-gone': '200',
  'no-args': '400',
  'cookie-forged-fp': '200',
};

/** A 3-client run whose only unusual ops are boundary requests with `knobs`: it converges and no door answered unexpectedly. */
async function knockRun(seed: string, knobs: Partial<WideWorkload>) {
  const base = buildConfig({ seed, profile: 'none', clients: 3, steps: 80 });
  const config = { ...base, wide: { ...profiles.chaos.wide!, hostileRate: 0, intruderRate: 0, failingRate: 0, bigDocRate: 0, boundaryRate: 0.1, ...knobs } };
  const r = await runSimulation(config, getStores());
  expect(r.verdict, r.violations.map((v) => v.message).join('\n')).toBe('converged');
  expect(r.trace.filter((e) => e.kind === 'intrude-unexpected').map((e) => e.detail)).toEqual([]);
  return r;
}

describe('hostile boundary: the doors knocked on the wrong way (wide.boundaryAbuse)', () => {
  it('each request gets its status, nothing of them is written, the run converges', async () => {
    const r = await knockRun('abuse', { boundaryAbuse: true });
    const seen = new Map<string, Set<string>>();
    for (const e of r.trace) {
      const m = e.kind === 'intrude-answer' ? /^boundary (\S+) (\d+)$/.exec(e.detail ?? '') : null;
      if (m && m[1]! in expected) seen.set(m[1]!, (seen.get(m[1]!) ?? new Set()).add(m[2]!));
    }
    // A forged fingerprint at or past the horizon is a state this database never had.
    expect(r.trace.some((e) => e.kind === 'intrude-answer' && e.detail === 'boundary cookie-forged-fp: ClientStateNotFound')).toBe(true);
    // No faults in this run: every variant answered exactly its status.
    expect(Object.fromEntries([...seen].map(([k, v]) => [k, [...v].join(',')]))).toEqual(expected);
  }, 120_000);

  it('is drawn last: seeds keep their earlier draws, and describeMix names it only with boundary ops', () => {
    const seeds = Array.from({ length: 20 }, (_, i) => String(i + 1)).map((s) => configForSeed(buildConfig({ seed: s, profile: 'swarm' }), s).wide!);
    expect(seeds.some((w) => w.boundaryAbuse && w.boundaryRate)).toBe(true);
    expect(seeds.some((w) => !w.boundaryAbuse)).toBe(true);
  });

  it('a stranger gets a server-issued token once, is refused another group\'s client and a declared body over the limit; nothing is written (wide.boundaryStrangers)', async () => {
    const r = await knockRun('strangers', { boundaryStrangers: true });
    const seen = new Map<string, Set<string>>();
    for (const e of r.trace) {
      const m = e.kind === 'intrude-answer' ? /^boundary (register-issued|register-issued-again|register-issued-token-taken|foreign-client|declared-over|no-body|staged-cookie-foreign|poke-stranger) (\d+)$/.exec(e.detail ?? '') : null;
      if (m) seen.set(m[1]!, (seen.get(m[1]!) ?? new Set()).add(m[2]!));
    }
    expect(Object.fromEntries([...seen].map(([k, v]) => [k, [...v].join(',')]))).toEqual({ 'register-issued': '200', 'register-issued-again': '409', 'register-issued-token-taken': '409', 'foreign-client': '403', 'declared-over': '413', 'no-body': '400', 'staged-cookie-foreign': '200', 'poke-stranger': '401' });
  }, 120_000);
});
