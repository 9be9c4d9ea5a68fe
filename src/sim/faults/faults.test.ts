/** Each fault module does what it says, observed through the trace of small explicit schedules. */
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../rng.ts';
import { runSimulation } from '../run.ts';
import type { ScheduleEvent } from '../schedule.ts';
import { buildConfig } from '../scenario.ts';
import { SimWorld, type Stores } from '../world.ts';
import { drop, duplicate, latency, lostAck } from './network-faults.ts';
import { clockSkew } from './clock-skew.ts';
import { quietNetwork } from '../config.ts';
import { useSimStores } from '../../../test/support/sim-stores.ts';

const getStores = useSimStores();
let stores: Stores;
beforeAll(() => {
  stores = getStores();
});

const up = (t: number, client: number, id = 'c0'): ScheduleEvent => ({ t, kind: 'op', client, op: 'upsert', type: 'comment', id, data: { t } });
const sync = (t: number, client: number): ScheduleEvent => ({ t, kind: 'sync', client });

async function run(schedule: ScheduleEvent[], network: Partial<typeof quietNetwork> = {}, clients = 2) {
  // No statement latency, so that times in the trace are exact.
  const config = { ...buildConfig({ seed: 'faults', profile: 'none', clients, steps: 1 }), dbLatencyMs: 0, network: { ...quietNetwork, latencyMs: [10, 10] as [number, number], ...network } };
  const r = await runSimulation(config, stores, { schedule });
  const kinds = (lane: string) => r.trace.filter((e) => e.lane === lane).map((e) => e.kind);
  return { r, kinds, at: (lane: string, kind: string) => r.trace.filter((e) => e.lane === lane && e.kind === kind).map((e) => e.t) };
}

describe('fault modules', () => {
  it('offline: requests fail at once while offline, and the queue goes through after', async () => {
    // Offline 10..1010; the app asks for a sync at 1500; the run goes on to 2000 before the heal.
    const { r, at } = await run([{ t: 10, kind: 'offline', client: 0, durationMs: 1000 }, up(20, 0), sync(1500, 0), up(2000, 1, 'c1')]);
    const offline = [...at('c0', 'push-offline'), ...at('c0', 'pull-offline')];
    expect(at('c0', 'push-offline').length).toBeGreaterThan(0);
    expect(offline.every((t) => t >= 10 && t < 1010)).toBe(true);
    // At once: each failed run's error is at the moment of its last attempt.
    for (const t of at('c0', 'sync-error')) expect(offline).toContain(t);
    // Nothing of c0's reaches the server while offline; its write does after, before the heal.
    const recv = r.trace.filter((e) => e.lane === 'server' && e.kind.endsWith('-recv') && e.detail?.startsWith('c0 ')).map((e) => e.t);
    expect(recv.some((t) => t >= 10 + 10 && t < 1010)).toBe(false); // (one latency: a request sent before 10 may land)
    const heal = at('sim', 'heal')[0]!;
    expect(r.trace.some((e) => e.lane === 'server' && e.kind === 'push-recv' && e.detail?.startsWith('c0 ') && e.t >= 1010 && e.t < heal)).toBe(true);
    expect(r.verdict).toBe('converged');
    expect(r.stats.mutations).toBe(2);
  });

  it('partition: requests hang until the timeout, never reach the server, and the loop backs off with jitter', async () => {
    const { r, at, kinds } = await run([{ t: 10, kind: 'partition', client: 0, durationMs: 5000 }, up(20, 0), sync(30, 0), sync(4000, 1)], { timeoutMs: 700 });
    // c0's requests and their outcomes (its lane also has its writes and sync requests).
    const c0 = r.trace.filter((e) => e.lane === 'c0' && (e.kind.endsWith('-send') || e.kind === 'partitioned' || e.kind === 'sync-error'));
    // Each partitioned request hangs for the whole timeout: c0's next request or error is 700 ms later.
    for (const e of c0.filter((x) => x.kind === 'partitioned')) {
      expect(c0.find((x) => x.t > e.t)?.t).toBe(e.t + 700);
    }
    expect(at('c0', 'partitioned').length).toBeGreaterThanOrEqual(3);
    // Backoff: after the n-th failed run in a row the loop waits base * 2^(n-1), jittered to [50%, 100%].
    const errors = at('c0', 'sync-error');
    const sends = c0.filter((e) => e.kind.endsWith('-send')).map((e) => e.t);
    const base = r.config.syncLoop!.backoffBaseMs;
    for (let n = 1; n < errors.length; n++) {
      const wait = sends.find((t) => t > errors[n - 1]!)! - errors[n - 1]!;
      expect(wait).toBeGreaterThanOrEqual((base * 2 ** (n - 1)) / 2);
      expect(wait).toBeLessThanOrEqual(base * 2 ** (n - 1));
    }
    // Nothing reaches the server until the heal phase lifts the partition.
    const heal = at('sim', 'heal')[0]!;
    expect(at('server', 'push-recv').length).toBeGreaterThan(0);
    expect(at('server', 'push-recv').every((t) => t >= heal)).toBe(true);
    expect(kinds('sim')).toContain('quiescent');
    expect(r.verdict).toBe('converged');
  });

  it('client crash: in-flight work is gone, the restart resumes from what PGlite committed', async () => {
    const { r, at, kinds } = await run([up(10, 0), { t: 20, kind: 'crash', client: 0, downMs: 500 }, up(100, 0, 'c1'), sync(600, 0)]);
    expect(at('c0', 'crash')).toEqual([20]);
    expect(at('c0', 'restart')).toEqual([520]);
    expect(kinds('c0')).toContain('skipped'); // the op while down
    expect(r.verdict).toBe('converged'); // the mutation queued before the crash was not lost
  });

  it('server crash: requests are refused while it is down and served after restart', async () => {
    const { r, at } = await run([up(5, 0), { t: 10, kind: 'server-crash', downMs: 300 }, sync(20, 0)]);
    expect(at('server', 'crash')).toEqual([10]);
    expect(at('server', 'refused').length).toBeGreaterThan(0);
    expect(at('server', 'restart')).toEqual([310]);
    expect(r.verdict).toBe('converged');
  });

  it('storage wipe: the client comes back with a new identity and its unpushed writes are lost on purpose', async () => {
    const { r } = await run([up(10, 0), { t: 20, kind: 'wipe', client: 0 }, up(30, 0, 'c1'), sync(40, 0)]);
    expect(r.verdict).toBe('converged');
    expect(r.trace.find((e) => e.kind === 'restart')?.detail).toBe('new identity c-c0-1-1');
  });

  it('lost acks and duplicates: retried and doubled pushes still apply exactly once', async () => {
    const { r, at } = await run([up(10, 0), sync(20, 0), sync(3000, 0), up(3100, 1, 'c1'), sync(3200, 1)], { lostAckRate: 1, duplicateRate: 1 });
    expect(at('c0', 'lost-ack').length).toBeGreaterThan(0);
    expect(r.trace.some((e) => e.detail?.includes('(dup)'))).toBe(true);
    expect(r.verdict).toBe('converged');
  });

  it('clock skew: steps a client clock, and only its timestamps change', async () => {
    const config = { ...buildConfig({ seed: 'skew', profile: 'none', clients: 1, steps: 1 }), dbLatencyMs: 0 };
    const w = await SimWorld.create(config, new Rng('skew'), stores, undefined, `skewtest${process.pid}`);
    const c = w.clients[0]!;
    w.sched.spawn('faults', 'skew', async () => {
      await w.sched.sleep(100);
      await clockSkew.apply(w, { t: 100, kind: 'skew', client: 0, offsetMs: -60_000 });
      const m = await c.engine!.upsert('comment', 'x', {});
      expect(m.timestamp).toBe(Date.UTC(2026, 0, 1) + 100 - 60_000);
    });
    await w.sched.run();
    expect(w.sched.trace.some((e) => e.kind === 'skew' && e.detail === '-60000 ms')).toBe(true);
  });

  it('compaction with small pages: a client behind the horizon bootstraps through staged pages and converges', async () => {
    // c0 is offline while c1 writes 12 documents; the log is compacted whole; c0 comes back.
    const writes = Array.from({ length: 12 }, (_, i) => up(100 + i * 10, 1, `c${i}`));
    const schedule: ScheduleEvent[] = [up(10, 0, 'mine'), sync(20, 0), { t: 50, kind: 'offline', client: 0, durationMs: 1500 }, ...writes, sync(300, 1), { t: 1000, kind: 'compaction', keepVersions: 0 }, sync(1600, 0)];
    const config = { ...buildConfig({ seed: 'faults', profile: 'none', clients: 2, steps: 1 }), dbLatencyMs: 0, network: { ...quietNetwork, latencyMs: [10, 10] as [number, number] }, pageBytes: 30 };
    const r = await runSimulation(config, stores, { schedule });
    const staged = r.trace.filter((e) => e.lane === 'c0' && e.kind === 'pull-send' && e.detail?.includes('"stage"'));
    expect(staged.length).toBeGreaterThanOrEqual(3);
    expect(r.trace.some((e) => e.kind === 'compact')).toBe(true);
    expect(r.verdict).toBe('converged');
  });

  it('network faults draw a message fate in range, and 0/1 rates mean never/always', () => {
    const rng = new Rng(9);
    const net = { ...quietNetwork, latencyMs: [5, 20] as [number, number] };
    for (let i = 0; i < 200; i++) expect(latency(rng, net)).toBeGreaterThanOrEqual(5);
    for (let i = 0; i < 200; i++) expect(latency(rng, net)).toBeLessThanOrEqual(20);
    const reordered = { ...net, reorderRate: 1 };
    expect(latency(rng, reordered)).toBeGreaterThan(20);
    for (const f of [drop, lostAck, duplicate]) {
      expect(f(rng, { ...net, dropRate: 0, lostAckRate: 0, duplicateRate: 0 })).toBe(false);
      expect(f(rng, { ...net, dropRate: 1, lostAckRate: 1, duplicateRate: 1 })).toBe(true);
    }
  });
});
