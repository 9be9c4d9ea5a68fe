/**
 * The simulated server process is production's: createSyncServer (its compaction schedule), the
 * SyncApi's PokeHub pokes over /api/poke streams, the HTTP limits and a graceful restart. Small
 * explicit schedules, observed through the trace; every run must still converge.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runSimulation } from './run.ts';
import type { ScheduleEvent } from './schedule.ts';
import { buildConfig } from './scenario.ts';
import { quietNetwork, type SimConfig } from './config.ts';
import type { Stores } from './world.ts';
import { useSimStores } from '../../test/support/sim-stores.ts';
import { drawServerProcess, serverEnv } from './server-process.ts';
import { defaultHttpLimits, httpLimitsFromEnv } from '../server/http/options.ts';
import { Rng } from './rng.ts';

const getStores = useSimStores();
let stores: Stores;
beforeAll(() => {
  stores = getStores();
});

const up = (t: number, client: number, id = 'c0'): ScheduleEvent => ({ t, kind: 'op', client, op: 'upsert', type: 'comment', id, data: { t } });
const intrude = (t: number, client: number, how: 'oversize' | 'no-length' | 'burst' | 'bad-token' | 'invalid' | 'version' | 'gap' | 'malformed'): ScheduleEvent => ({ t, kind: 'op', client, op: 'intrude', type: 'comment', id: 'c1', how });

async function run(schedule: ScheduleEvent[], extra: Partial<SimConfig> = {}) {
  const config = { ...buildConfig({ seed: 'process', profile: 'none', clients: 2, steps: 1 }), dbLatencyMs: 0, network: { ...quietNetwork, latencyMs: [10, 10] as [number, number] }, ...extra };
  const r = await runSimulation(config, stores, { schedule });
  const details = (kind: string) => r.trace.filter((e) => e.kind === kind).map((e) => `${e.lane} ${e.detail ?? ''}`);
  return { r, details };
}

describe('the simulated server process', () => {
  it('reads its HTTP limits from the environment the seed drew, through production\'s parser, unchanged', () => {
    const rng = new Rng('env');
    let set = 0;
    for (let i = 0; i < 40; i++) {
      const p = drawServerProcess(() => rng.next());
      const env = serverEnv(p);
      for (const v of Object.values(env)) expect(typeof v).toBe('string');
      set += Object.keys(env).length;
      expect(httpLimitsFromEnv(env)).toEqual({ ...defaultHttpLimits, ...p.http });
    }
    expect(set).toBeGreaterThan(0);
  });

  it('pokes come from the PokeHub over each client\'s /api/poke stream', async () => {
    const { r, details } = await run([up(500, 0), up(1500, 1, 'c1')]);
    expect(details('poke-stream-open').length).toBeGreaterThanOrEqual(2);
    // c1 learns of c0's write through a poke (and c0 of c1's).
    expect(details('poke').some((d) => d.startsWith('c1 '))).toBe(true);
    expect(details('poke').some((d) => d.startsWith('c0 '))).toBe(true);
    expect(r.verdict, JSON.stringify(r.violations.slice(0, 2))).toBe('converged');
  });

  it('a too small poke buffer drops the stream (a slow reader), the client reconnects, and still converges', async () => {
    const { r } = await run([up(500, 0), up(2500, 1, 'c1')], { serverProcess: { http: { pokeBufferBytes: 8 } } });
    expect(r.stats.faults['poke-stream-dropped']).toBeGreaterThan(0);
    expect(r.verdict).toBe('converged');
  });

  it('a compaction schedule compacts on its own, and the checkers still see the whole history', async () => {
    const { r, details } = await run([up(100, 0), up(200, 1, 'c1'), up(2500, 0, 'c2'), up(4000, 1, 'c3')], { serverProcess: { compaction: { everyMs: 1_000, keepVersions: 0 } } });
    expect(details('compact').some((d) => d.includes('scheduled') && !d.includes(' 0 rows dropped'))).toBe(true);
    expect(r.verdict, JSON.stringify(r.violations.slice(0, 2))).toBe('converged');
  });

  it('a misbehaving client\'s HTTP abuse is refused with 413, 411 and 400, without harm', async () => {
    const { r, details } = await run([up(100, 0), up(200, 1, 'c1'), intrude(1000, 0, 'oversize'), intrude(1100, 0, 'no-length'), intrude(1200, 1, 'bad-token')]);
    const answers = details('intrude-answer');
    for (const status of ['oversize 413', 'no-length 411', 'bad-token 400']) expect(answers.some((d) => d.includes(status)), `${status} in ${answers.join('; ')}`).toBe(true);
    expect(r.verdict, JSON.stringify(r.violations.slice(0, 2))).toBe('converged');
  });

  it('malformed, version-mismatched, gapped and invalid pushes are refused or recorded as failed, without harm', async () => {
    const { r, details } = await run([up(100, 0), up(200, 1, 'c1'), intrude(1000, 0, 'malformed'), intrude(1100, 0, 'version'), intrude(1200, 1, 'gap'), intrude(1300, 1, 'invalid'), up(1400, 1, 'c2')]);
    const answers = details('intrude-answer');
    for (const status of ['malformed 400', 'version 400', 'gap 400', 'invalid 200']) expect(answers.some((d) => d.includes(status)), `${status} in ${answers.join('; ')}`).toBe(true);
    expect(r.verdict, JSON.stringify(r.violations.slice(0, 2))).toBe('converged');
  });

  it('a burst past a tight rate limit gets 429s, and the group\'s honest engine, limited too, does not wedge', async () => {
    const { r, details } = await run([up(100, 0), up(200, 1, 'c1'), intrude(1300, 1, 'burst'), up(1310, 1, 'c2')], { serverProcess: { http: { syncBurst: 3, syncPerSecond: 1 } } });
    expect(details('intrude-answer').some((d) => d.includes('burst 429'))).toBe(true);
    expect(r.verdict, JSON.stringify(r.violations.slice(0, 2))).toBe('converged');
  });

  it('a graceful restart drains (503 ShuttingDown is the fault\'s, not a violation), probes health, and converges', async () => {
    const { r, details } = await run([up(100, 0), { t: 150, kind: 'server-restart', drainMs: 400, downMs: 300 }, up(200, 1, 'c1'), up(300, 0, 'c2')]);
    expect(details('drain').length).toBe(1);
    // Writes made during the drain window are answered 503 by the draining server, then go through after.
    expect(r.trace.some((e) => e.lane === 'server' && /-done$/.test(e.kind) && e.detail?.endsWith(' 503'))).toBe(true);
    expect(details('restart').some((d) => d.includes('health 200'))).toBe(true);
    expect(r.verdict, JSON.stringify(r.violations.slice(0, 2))).toBe('converged');
  });
});
