/**
 * The heal bound covers what the configuration can drain: a server push budget and a rate limit
 * make a backlog drain at budget x rate mutations/s, and liveness must not fail for that alone.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runSimulation } from './run.ts';
import type { ScheduleEvent } from './schedule.ts';
import { buildConfig } from './scenario.ts';
import { quietNetwork } from './config.ts';
import type { Stores } from './world.ts';
import { useSimStores } from '../../test/support/sim-stores.ts';

const getStores = useSimStores();
let stores: Stores;
beforeAll(() => {
  stores = getStores();
});

const up = (t: number, client: number, id: string): ScheduleEvent => ({ t, kind: 'op', client, op: 'upsert', type: 'comment', id, data: { t } });

async function run(schedule: ScheduleEvent[], serverProcess: NonNullable<ReturnType<typeof buildConfig>['serverProcess']>) {
  const config = {
    ...buildConfig({ seed: 'capacity', profile: 'none', clients: 2, steps: 1 }),
    dbLatencyMs: 0,
    syncLoop: { intervalMs: 3_000, pokeDelayMs: 50, backoffBaseMs: 200, backoffMaxMs: 5_000 },
    network: { ...quietNetwork, latencyMs: [10, 10] as [number, number] },
    healBudgetMs: 5_000,
    serverProcess,
  };
  const r = await runSimulation(config, stores, { schedule });
  const at = (kind: string) => r.trace.filter((e) => e.lane === 'sim' && e.kind === kind);
  return { r, at };
}

describe('heal capacity', () => {
  // 40 writes at once; the server takes one mutation per push and 2 requests/s per token: about
  // 20 s of draining, four times the 5 s heal bound.
  const backlog = Array.from({ length: 40 }, (_, i) => up(100 + i, 0, `c${i}`));
  const slow = { http: { syncPerSecond: 2, syncBurst: 3 }, limits: { maxMutationsPerPush: 1 } };

  it('extends the heal bound to what a push budget and a rate limit can drain, and the backlog drains', async () => {
    const { r, at } = await run(backlog, slow);
    expect(r.verdict, r.violations.map((v) => v.message).join('\n')).toBe('converged');
    const ext = at('heal-extended');
    expect(ext.length).toBe(1);
    expect(ext[0]!.detail).toMatch(/push budget 1, .* 2 syncs\/s per group/);
  });

  it('leaves a run that heals within the bound as it was (no capacity reads, no extension)', async () => {
    const { r, at } = await run(backlog.slice(0, 2), slow);
    expect(r.verdict).toBe('converged');
    expect(at('heal-extended')).toEqual([]);
  });
});
