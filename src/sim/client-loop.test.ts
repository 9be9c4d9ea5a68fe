/**
 * Each simulated client runs its engine's real SyncLoop in virtual time: a local write pokes it,
 * a committed push pokes the other clients over the simulated network, a quiet client syncs at
 * its interval, and the heal waits for the loops rather than syncing for them.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runSimulation } from './run.ts';
import type { ScheduleEvent } from './schedule.ts';
import { buildConfig } from './scenario.ts';
import { quietNetwork, type SyncLoopConfig } from './config.ts';
import type { Stores } from './world.ts';
import type { ClientDatabase } from '../engine/client-database.ts';
import { ClientDatabase as Store } from '../engine/client-database.ts';
import type { BugVariant } from './bugs/types.ts';
import { useSimStores } from '../../test/support/sim-stores.ts';

const getStores = useSimStores();
let stores: Stores;
beforeAll(() => {
  stores = getStores();
});

const up = (t: number, client: number, id = 'c0'): ScheduleEvent => ({ t, kind: 'op', client, op: 'upsert', type: 'comment', id, data: { t } });
const loop: SyncLoopConfig = { intervalMs: 3_000, pokeDelayMs: 50, backoffBaseMs: 200, backoffMaxMs: 5_000 };

async function run(schedule: ScheduleEvent[], o: { network?: Partial<typeof quietNetwork>; clients?: number; bug?: BugVariant; healBudgetMs?: number } = {}) {
  // No statement latency and a fixed network latency, so that times in the trace are exact.
  const config = {
    ...buildConfig({ seed: 'loop', profile: 'none', clients: o.clients ?? 2, steps: 1 }),
    dbLatencyMs: 0,
    syncLoop: loop,
    network: { ...quietNetwork, latencyMs: [10, 10] as [number, number], ...o.network },
    ...(o.healBudgetMs ? { healBudgetMs: o.healBudgetMs } : {}),
  };
  const r = await runSimulation(config, stores, { schedule, bug: o.bug });
  const at = (lane: string, kind: string) => r.trace.filter((e) => e.lane === lane && e.kind === kind).map((e) => e.t);
  return { r, at };
}

describe('the clients run their engines\' sync loops', () => {
  it('a local write pokes its own loop; the committed push pokes the other client, which pulls', async () => {
    const { r, at } = await run([up(100, 0), up(9_000, 1, 'c1')]);
    // The write at 100 wakes c0's loop; after the poke delay it pushes.
    expect(at('c0', 'push-send')[0]).toBe(100 + loop.pokeDelayMs);
    // The push commits at the server (push-done), and the poke reaches c1 one latency later.
    const committed = at('server', 'push-done')[0]!;
    const poke = r.trace.find((e) => e.lane === 'c1' && e.kind === 'poke')!;
    // Pokes come from the server's PokeHub over c1's /api/poke stream (they no longer name the pusher).
    expect(poke.detail).toBe('poke#1');
    expect(poke.t).toBeGreaterThanOrEqual(committed + 10);
    expect(poke.t).toBeLessThan(committed + 100);
    // c1 pulls a poke delay later, long before its interval would have.
    expect(at('c1', 'pull-send').find((t) => t > poke.t)).toBe(poke.t + loop.pokeDelayMs);
    // The hub pokes every open stream, the pusher's too; c1's push at 9000 pokes c0 as well.
    expect(at('c0', 'poke').filter((t) => t > 9_000).length).toBeGreaterThanOrEqual(1);
    expect(r.verdict).toBe('converged');
  });

  it('a quiet client syncs at its interval, and a schedule sync event is a poke', async () => {
    const { at } = await run([{ t: 5_000, kind: 'sync', client: 1 }, up(9_500, 0)]);
    // c1 does nothing but its loop: a sync at 0 (two pull pages), then one each interval after the last ended.
    const runs = at('c1', 'pull-send').filter((t) => t < 5_000);
    expect(runs.length).toBeGreaterThanOrEqual(2);
    const gaps = runs.slice(1).map((t, i) => t - runs[i]!).filter((g) => g > 100);
    expect(gaps.length).toBeGreaterThan(0);
    for (const g of gaps) expect(g).toBeGreaterThanOrEqual(loop.intervalMs);
    for (const g of gaps) expect(g).toBeLessThan(loop.intervalMs + 100);
    // The sync event at 5000 cuts the interval short: a pull one poke delay later.
    expect(at('c1', 'sync-request')).toEqual([5_000]);
    expect(at('c1', 'pull-send')).toContain(5_000 + loop.pokeDelayMs);
  });

  it('a poke to an offline or crashed client is lost; it catches up on its own after', async () => {
    const { r, at } = await run([{ t: 10, kind: 'offline', client: 1, durationMs: 1_000 }, up(100, 0), up(6_000, 0, 'c1')]);
    // Offline, c1 gets no poke for the first write (lost on the way, or no stream open to carry it).
    expect(at('c1', 'poke').filter((t) => t < 1_010)).toEqual([]);
    expect(at('c1', 'poke').length).toBe(1); // the second write's poke, once online
    expect(r.verdict).toBe('converged');
  });

  it('pokes travel over the network: some are dropped, and every one is either delivered or lost', async () => {
    const writes = Array.from({ length: 12 }, (_, i) => up(100 + i * 300, i % 3, `c${i % 5}`));
    const { r } = await run([...writes, up(6_000, 0)], { clients: 3, network: { dropRate: 0.3, timeoutMs: 500 } });
    expect(r.stats.faults['poke-drop']).toBeGreaterThan(0);
    for (const lane of ['c0', 'c1', 'c2']) {
      const numbers = r.trace.filter((e) => e.lane === lane && (e.kind === 'poke' || e.kind === 'poke-lost')).map((e) => Number(/^poke#(\d+)/.exec(e.detail!)![1]));
      expect(numbers.sort((a, b) => a - b)).toEqual(numbers.map((_, i) => i + 1));
    }
    expect(r.verdict).toBe('converged');
  });

  it('heal waits for the loops; a client that cannot catch up is a liveness failure that says what its loop waits on', async () => {
    // A planted engine bug: pulls are never applied, so no client ever catches up (nor drops what it pushed).
    class Stuck extends Store {
      override async applyPull(): ReturnType<ClientDatabase['applyPull']> {
        return { applied: false, changes: [], droppedPending: 0 };
      }
    }
    const stuck: BugVariant = { name: 'stuck-queue', description: 'test only', createStore: (db, schema, registry, limits) => new Stuck(db, schema, registry, limits) };
    const { r, at } = await run([up(100, 0), up(200, 1, 'c1')], { bug: stuck, healBudgetMs: 10_000 });
    expect(at('sim', 'heal-timeout').length).toBe(1);
    const v = r.violations.find((x) => x.checker === 'liveness');
    expect(v, JSON.stringify(r.violations)).toBeDefined();
    expect(v!.lane).toBe('c0');
    expect(v!.message).toMatch(/c0: 1 pending, cookie null vs server 2; loop: 3000 ms wait since t=\d+, 0 failed runs in a row, last error none/);
    // Waiting was done by the loops in virtual time: the heal lasted its whole bound, give or take one run.
    expect(r.stats.virtualMs - at('sim', 'heal')[0]!).toBeGreaterThanOrEqual(10_000);
  });
});
