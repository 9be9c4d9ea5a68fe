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
import { readReplayFile } from '../replay-file.ts';
import { join } from 'node:path';

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
    // The loop's first run sent the group's registration at 0, before the offline period began.
    expect(at('c0', 'register-send')[0]).toBeLessThan(10);
    const offline = [...at('c0', 'register-offline'), ...at('c0', 'push-offline'), ...at('c0', 'pull-offline')];
    expect(offline.length).toBeGreaterThan(0);
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

  it('client crash in the deferred mode: the writes not yet stored are lost, recorded and counted, and the run still converges', async () => {
    // A type no app view reads (a view's query would store the writes first).
    const note = (t: number, id: string): ScheduleEvent => ({ t, kind: 'op', client: 0, op: 'upsert', type: 'note', id, data: { t } });
    const base = buildConfig({ seed: 'faults', profile: 'none', clients: 2, steps: 1 });
    const config = { ...base, dbLatencyMs: 0, network: { ...quietNetwork, latencyMs: [10, 10] as [number, number] }, wide: { ...base.wide!, flushIntervalMs: 300 } };
    const r = await runSimulation(config, stores, { schedule: [note(10, 'n0'), note(11, 'n1'), { t: 20, kind: 'crash', client: 0, downMs: 500 }, sync(600, 0)] });
    expect(r.trace.filter((e) => e.kind === 'lost-unflushed').map((e) => e.detail)).toEqual([expect.stringMatching(/^2: /)]);
    expect(r.stats.faults['lost-unflushed']).toBe(2);
    expect(r.verdict).toBe('converged');
  });

  it('offline the app knows about: the engine is told (setOnline), its loop sends nothing, and back online it syncs', async () => {
    const { r, at } = await run([up(5, 0), { t: 10, kind: 'offline', client: 0, durationMs: 1000, appKnows: true }, up(20, 0, 'c1'), sync(500, 0), up(2000, 1, 'c2')]);
    expect(at('c0', 'offline')).toEqual([10]);
    expect(at('c0', 'online')).toEqual([1010]);
    // Told, the loop skips its runs: once the run in progress at 10 is over, no request tries the network.
    const tries = [...at('c0', 'push-offline'), ...at('c0', 'pull-offline'), ...at('c0', 'register-offline'), ...r.trace.filter((e) => e.lane === 'c0' && e.kind.endsWith('-send')).map((e) => e.t)];
    expect(tries.filter((t) => t > 200 && t < 1010)).toEqual([]);
    // setOnline(true) pokes the loop: c1's write is pushed right after, before any interval.
    expect(r.trace.some((e) => e.lane === 'c0' && e.kind === 'push-send' && e.t >= 1010 && e.t < 1010 + 400)).toBe(true);
    expect(r.verdict).toBe('converged');
  });

  it('graceful close: the engine closes (its sync in progress finishes), the page reopens, nothing is lost', async () => {
    const { r, at, kinds } = await run([up(10, 0), { t: 12, kind: 'crash', client: 0, downMs: 500, graceful: true }, up(100, 0, 'c1'), sync(800, 0)]);
    const closed = at('c0', 'close');
    expect(closed).toHaveLength(1);
    expect(at('c0', 'crash')).toEqual([]);
    expect(at('c0', 'restart')).toEqual([closed[0]! + 500]);
    expect(kinds('c0')).toContain('skipped'); // the op while closed
    expect(r.verdict).toBe('converged');
    expect(r.stats.mutations).toBe(1);
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
    const config = { ...buildConfig({ seed: 'faults', profile: 'none', clients: 2, steps: 1 }), dbLatencyMs: 0, network: { ...quietNetwork, latencyMs: [10, 10] as [number, number] },
      wide: { pageSize: 500, pageBytes: 30, pushBatchSize: 100, maxPushBytes: 512 * 1024, bigDocRate: 0, reshapeRate: 0, failingRate: 0, hostileRate: 0, intruderRate: 0 } };
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

  const base = [up(10, 0), sync(20, 0), { t: 300, kind: 'op', client: 1, op: 'increment', type: 'tally', id: 't0', field: 'n', by: 2 } as ScheduleEvent, sync(310, 1)];

  it('injected 5xx: answers marked injected (no-5xx forgives them), before or after the server processed the request', async () => {
    const { r, at } = await run([...base, sync(3000, 0), sync(3100, 1)], { serverErrorRate: 1 });
    expect(at('server', 'injected-5xx').length).toBeGreaterThan(0);
    // Every request fails while it is on (registration first: a processed one leaves the group bound, so the client moves group).
    expect(r.trace.some((e) => e.kind === 'sync-error' && e.detail?.includes('(502)'))).toBe(true);
    expect(r.trace.some((e) => e.kind === 'injected-5xx' && e.detail?.includes('(processed)'))).toBe(true);
    expect(r.trace.some((e) => e.kind === 'injected-5xx' && e.detail?.includes('(not processed)'))).toBe(true);
    expect(r.verdict).toBe('converged');
  });

  it('a response cut off is a TransportError to the client, and a slow one a timeout', async () => {
    const cut = await run(base, { truncateRate: 1 });
    expect(cut.at('c0', 'truncated').length).toBeGreaterThan(0);
    expect(cut.r.trace.some((e) => e.kind === 'sync-error' && e.detail?.includes('register failed (200)'))).toBe(true);
    expect(cut.r.verdict).toBe('converged');
    const slow = await run(base, { slowResponseRate: 1, timeoutMs: 500 });
    expect(slow.at('server', 'slow-response').length).toBeGreaterThan(0);
    expect(slow.r.trace.some((e) => e.kind === 'sync-error' && e.detail?.includes('timed out'))).toBe(true);
    expect(slow.r.verdict).toBe('converged');
  });

  it('server storage loss: clients start over under new client ids, register again, and converge', async () => {
    const { r, kinds } = await run([...base, { t: 600, kind: 'storage-loss' }, up(700, 0, 'c1'), sync(800, 0), sync(900, 1)]);
    expect(kinds('server')).toContain('storage-loss');
    expect(r.trace.filter((e) => e.kind === 'reset').length).toBe(2);
    expect(r.trace.filter((e) => e.kind === 'registered').length).toBe(4);
    expect(r.verdict).toBe('converged');
  });

  it('an observation asked for while the server reopens after a storage loss waits until it is up (it read a schema that was not there yet: engine-error)', async () => {
    // Found by the 1,000-client replay (scenarios/large): slow statements, so the reopen takes
    // virtual time during which clients apply pulls answered before the loss.
    const clients = 8;
    const schedule: ScheduleEvent[] = Array.from({ length: clients }, (_, c) => ({ t: 10 + c, kind: 'op', client: c, op: 'upsert', type: 'note', id: `n${c}`, data: { t: 1 } }) as ScheduleEvent);
    for (let t = 400; t < 900; t += 7) schedule.push(sync(t, Math.floor(t / 7) % clients));
    schedule.push({ t: 600, kind: 'storage-loss' });
    schedule.sort((a, b) => a.t - b.t);
    const base = buildConfig({ seed: 'obs', profile: 'none', clients, steps: 1 });
    const config = { ...base, dbLatencyMs: 30, rebaseCheckRate: 1, network: { ...quietNetwork, latencyMs: [5, 5] as [number, number] } };
    const r = await runSimulation(config, stores, { schedule });
    expect(r.trace.some((e) => e.lane === 'server' && e.kind === 'storage-loss')).toBe(true);
    expect(r.violations, JSON.stringify(r.violations.slice(0, 2))).toEqual([]);
    expect(r.verdict).toBe('converged');
  });

  it('a compaction fault that a storage loss interrupts dies with the server process (its next statement read the replaced database: sim-error)', async () => {
    // Found by the push-budget hunt (swarm seed 6 with a compaction schedule): slow statements, so
    // the compaction's read and its compact span the storage loss; started at each ms before it,
    // some compaction's statement lands while the server's schema is gone or half rebuilt.
    const clients = 3;
    let interrupted = 0;
    for (let at = 570; at < 600; at += 3) {
      const schedule: ScheduleEvent[] = Array.from({ length: clients }, (_, c) => ({ t: 10 + c, kind: 'op', client: c, op: 'upsert', type: 'note', id: `n${c}`, data: { t: 1 } }) as ScheduleEvent);
      for (let t = 100; t < 500; t += 40) schedule.push(sync(t, Math.floor(t / 40) % clients));
      schedule.push({ t: at, kind: 'compaction', keepVersions: 0 }, { t: 600, kind: 'storage-loss' }, sync(900, 0), sync(950, 1));
      schedule.sort((a, b) => a.t - b.t);
      const base = buildConfig({ seed: `compact-loss-${at}`, profile: 'none', clients, steps: 1 });
      const config = { ...base, dbLatencyMs: 30, network: { ...quietNetwork, latencyMs: [5, 5] as [number, number] } };
      const r = await runSimulation(config, stores, { schedule });
      expect(r.violations, `compaction at ${at}: ${JSON.stringify(r.violations.slice(0, 2))}`).toEqual([]);
      if (r.trace.some((e) => e.lane === 'server' && e.kind === 'compact-interrupted')) interrupted++;
    }
    expect(interrupted).toBeGreaterThan(0);
  });

  it('backup and restore: clients start over, with a new epoch and also with the same one (the cookie fingerprint tells the restored history)', async () => {
    const schedule = (epoch: 'same' | 'reset') => [...base, { t: 250, kind: 'backup-restore', restoreAfterMs: 400, epoch } as ScheduleEvent, up(700, 0, 'c1'), sync(800, 0), sync(900, 1)];
    for (const epoch of ['reset', 'same'] as const) {
      const { r, kinds } = await run(schedule(epoch));
      expect(kinds('server')).toContain('restore');
      // c0's cookie (version 2, after c1's increment) lies in the lost history: it starts over.
      expect(kinds('c0')).toContain('reset');
      expect(r.verdict, epoch).toBe('converged');
    }
  });

  it('token loss: the group is bound to the lost token, so the client moves to a new group with its pending writes', async () => {
    // Offline from 250, so that the increment at 300 is still pending when the token is lost at 400.
    const { r, at } = await run([up(10, 0), sync(20, 0), { t: 250, kind: 'offline', client: 0, durationMs: 1000 }, { t: 300, kind: 'op', client: 0, op: 'increment', type: 'tally', id: 't0', field: 'n', by: 2 }, { t: 400, kind: 'token-loss', client: 0, downMs: 100 }, sync(900, 0)]);
    expect(at('c0', 'token-lost')).toHaveLength(1);
    expect(r.trace.filter((e) => e.kind === 'moved-group')).toHaveLength(1);
    expect(r.trace.find((e) => e.kind === 'moved-group')?.detail).toMatch(/1 re-queued/);
    // The restarted client's registration failed (offline): until its backoff ends, asking again sends nothing.
    expect(at('c0', 'register-offline')).toHaveLength(1);
    expect(r.trace.some((e) => e.lane === 'c0' && e.kind === 'sync-error' && e.detail?.includes('register: backing off'))).toBe(true);
    expect(r.verdict).toBe('converged');
  });

  it('token loss while the heal restarts the client: one engine, one registration at a time, one move, and the run ends', async () => {
    // The restart and the heal both found the client down and opened two engines; the one
    // overwritten registered the lost group again (409) every backoff until the time limit.
    const replay = readReplayFile(join('scenarios', 'regressions', 'token-loss-restart-during-heal-registration-loop.json'));
    const r = await runSimulation(replay.config, stores, { schedule: replay.schedule });
    const count = (kind: string) => r.trace.filter((e) => e.kind === kind).length;
    expect(r.violations.map((v) => v.checker)).not.toContain('sim-error');
    expect(count('token-lost')).toBe(1);
    expect(count('moved-group')).toBe(1);
    // The first registration, the lost group's one 409, the new group's.
    expect(count('register-send')).toBe(3);
    expect(r.stats.virtualMs).toBeLessThan(replay.config.healBudgetMs);
  });

  it('token loss, then a crash while the client moves to a new group: the move\'s bookkeeping still follows its writes', async () => {
    // The move returned before following the re-queued writes to the new client id when the client
    // went down meanwhile; the restart opens the new store, so those writes were flagged lost.
    const config = { ...buildConfig({ seed: 'faults', profile: 'none', clients: 2, steps: 1 }), dbLatencyMs: 3, network: { ...quietNetwork, latencyMs: [10, 10] as [number, number] } };
    const base: ScheduleEvent[] = [up(10, 0), sync(20, 0), { t: 250, kind: 'offline', client: 0, durationMs: 1000 }, { t: 300, kind: 'op', client: 0, op: 'increment', type: 'tally', id: 't0', field: 'n', by: 2 }, { t: 400, kind: 'token-loss', client: 0, downMs: 100 }, sync(900, 0)];
    const lost = (await runSimulation(config, stores, { schedule: base })).trace.find((e) => e.kind === 'token-lost')!.t;
    for (const d of [1, 3, 6]) {
      const r = await runSimulation(config, stores, { schedule: [...base, { t: lost + d, kind: 'crash', client: 0, downMs: 50 } as ScheduleEvent].sort((a, b) => a.t - b.t) });
      expect(r.trace.filter((e) => e.kind === 'moved-group').length, `crash ${d} ms into the move`).toBeGreaterThan(0);
      expect(r.verdict, `crash ${d} ms into the move: ${r.violations.map((v) => v.message).slice(0, 3).join("; ")}`).toBe('converged');
    }
  });

  it('a misbehaving client (skipped ids, a stale id, another group\'s client id) is refused without harm', async () => {
    const intrude = (t: number, how: 'skip' | 'stale' | 'foreign'): ScheduleEvent => ({ t, kind: 'op', client: 1, op: 'intrude', type: 'comment', id: 'c0', how });
    const { r } = await run([...base, sync(1000, 0), sync(1000, 1), intrude(2000, 'skip'), intrude(2100, 'stale'), intrude(2200, 'foreign'), sync(2500, 0)]);
    expect(r.trace.filter((e) => e.kind === 'intrude').length).toBe(3);
    expect(r.verdict).toBe('converged');
  });

  it('hostile inputs are refused by the engine, queuing nothing', async () => {
    const hostile = (t: number, h: 'surrogate' | 'nul' | 'proto' | 'oversized'): ScheduleEvent => ({ t, kind: 'op', client: 0, op: 'hostile', type: 'comment', id: 'c0', hostile: h });
    const { r, at } = await run([hostile(10, 'surrogate'), hostile(20, 'nul'), hostile(30, 'proto'), hostile(40, 'oversized'), sync(50, 0)]);
    expect(at('c0', 'refused')).toEqual([10, 20, 30, 40]);
    expect(r.stats.mutations).toBe(0);
    expect(r.verdict).toBe('converged');
  });
});
