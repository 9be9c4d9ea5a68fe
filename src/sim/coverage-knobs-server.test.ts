/**
 * The server coverage knobs (coverage-knobs-server.ts). wide.effectBudgetBytes: the server's
 * per-push effect budget below what big documents add up to; a push stops at a mutation boundary
 * (the client sends the rest), a mutation over the budget on its own is recorded as failed.
 * wide.scheduleKeepMs: the compaction schedule keeps by age only. Every run must converge.
 * (wide.boundaryAbuse: faults/hostile-boundary.test.ts.)
 */
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { runSimulation } from './run.ts';
import { buildConfig, configForSeed } from './scenario.ts';
import { profiles, quietNetwork } from './config.ts';
import type { ScheduleEvent } from './schedule.ts';
import { useSimStores } from '../../test/support/sim-stores.ts';
import { mistakes, tryMistake } from './faults/server-misconfigured-start.ts';
import { labelMutators } from './refused-label.ts';
import { createRegistry, runMutator } from '../protocol/index.ts';
import { checkEffects } from '../server/validate.ts';
import { resolveLimits } from '../server/limits.ts';

const getStores = useSimStores();

describe('server coverage knobs (coverage-knobs-server.ts)', () => {
  it('a per-push effect budget below big documents cuts pushes short, fails a mutation over it alone, and converges (wide.effectBudgetBytes)', async () => {
    const base = buildConfig({ seed: 'budget', profile: 'none', clients: 3, steps: 120 });
    const config = { ...base, wide: { ...profiles.chaos.wide!, hostileRate: 0, intruderRate: 0, failingRate: 0, bigDocRate: 0.5, effectBudgetBytes: 60_000 } };
    const r = await runSimulation(config, getStores());
    expect(r.verdict, r.violations.map((v) => v.message).join('\n')).toBe('converged');
    expect(r.stats.faults['push-over-effect-budget'] ?? 0).toBeGreaterThan(0);
    expect(r.stats.faults['push-cut-short'] ?? 0).toBeGreaterThan(0);
  }, 120_000);

  it('a compaction schedule that keeps by age only compacts and converges (wide.scheduleKeepMs)', async () => {
    const up = (t: number, client: number, id: string): ScheduleEvent => ({ t, kind: 'op', client, op: 'upsert', type: 'comment', id, data: { t } });
    const base = buildConfig({ seed: 'keep-ms', profile: 'none', clients: 2, steps: 1 });
    const config = {
      ...base, dbLatencyMs: 0, network: { ...quietNetwork, latencyMs: [10, 10] as [number, number] },
      serverProcess: { compaction: { everyMs: 1_000, keepVersions: 1_000 } }, wide: { ...profiles.chaos.wide!, hostileRate: 0, intruderRate: 0, failingRate: 0, bigDocRate: 0, scheduleKeepMs: 500 },
    };
    const r = await runSimulation(config, getStores(), { schedule: [up(100, 0, 'c0'), up(200, 1, 'c1'), up(2500, 0, 'c2'), up(4000, 1, 'c3')] });
    expect(r.verdict, r.violations.map((v) => v.message).join('\n')).toBe('converged');
    // keepVersions 1,000 would keep every row: rows dropped means the age bound ruled.
    const compacted = r.trace.filter((e) => e.kind === 'compact' && (e.detail ?? '').startsWith('scheduled')).map((e) => e.detail ?? '');
    expect(compacted.some((d) => !d.includes(' 0 rows dropped')), compacted.join('; ')).toBe(true);
  }, 120_000);

  it('leaves the server at production\'s page defaults only in seeds whose pages hold 500 rows, and such a run converges (wide.serverPageDefaults)', async () => {
    const wides = Array.from({ length: 60 }, (_, i) => String(i + 1)).map((s) => configForSeed(buildConfig({ seed: s, profile: 'swarm' }), s).wide!);
    expect(wides.some((w) => w.serverPageDefaults)).toBe(true);
    for (const w of wides) if (w.serverPageDefaults) expect(w.pageSize).toBe(500);
    const base = buildConfig({ seed: 'page-defaults', profile: 'none', clients: 3, steps: 60 });
    const r = await runSimulation({ ...base, wide: { ...profiles.chaos.wide!, pageSize: 500, serverPageDefaults: true } }, getStores());
    expect(r.verdict, r.violations.map((v) => v.message).join('\n')).toBe('converged');
  }, 120_000);

  it('tries the first server start with each operator typo: each fails at once naming the setting, and the run converges (wide.misconfiguredStart)', async () => {
    const base = buildConfig({ seed: 'misconfigured', profile: 'none', clients: 2, steps: 40 });
    const r = await runSimulation({ ...base, wide: { ...profiles.chaos.wide!, misconfiguredStart: true } }, getStores());
    expect(r.verdict, r.violations.map((v) => v.message).join('\n')).toBe('converged');
    expect(r.stats.faults['misconfigured-start']).toBe(1);
    expect(r.trace.filter((e) => e.kind === 'start-refused').map((e) => e.detail)).toEqual(mistakes.map((m) => m.what));
  }, 120_000);

  it('calls a start that succeeds, names another setting or issues statements a finding (tryMistake)', async () => {
    const none = () => 0;
    const db = undefined as never;
    expect(await tryMistake({ what: 'ok', start: async () => 1, names: 'x' }, db, none)).toBe('a start with ok did not fail');
    expect(await tryMistake({ what: 'vague', start: async () => { throw new Error('bad config'); }, names: 'pageSize' }, db, none)).toContain('without naming the setting (pageSize): bad config');
    let n = 0;
    expect(await tryMistake({ what: 'late', start: async () => { n = 2; throw new Error('pageSize'); }, names: 'pageSize' }, db, () => n)).toBe('a start with late issued 2 statements before failing');
    expect(await tryMistake({ what: 'fine', start: async () => { throw new Error('pageSize'); }, names: 'pageSize' }, db, none)).toBeUndefined();
  });

  it('a restart whose drain window is shorter than the requests in flight closes the listener while they run, a second signal joins the drain, and it converges (wide.shortDrainMs, wide.secondSignal)', async () => {
    const base = buildConfig({ seed: 'short-drain', profile: 'none', clients: 4, steps: 150 });
    const config = { ...base, dbLatencyMs: 20, faults: { ...base.faults, serverRestart: 0.04 }, wide: { ...profiles.chaos.wide!, hostileRate: 0, intruderRate: 0, failingRate: 0, bigDocRate: 0, shortDrainMs: 0, secondSignal: true } };
    const r = await runSimulation(config, getStores());
    expect(r.verdict, r.violations.map((v) => v.message).join('\n')).toBe('converged');
    // Requests in flight when the drain began, and cut off at once by the exit that follows it.
    const drains = r.trace.filter((e) => e.kind === 'drain').map((e) => Number(/^(\d+)/.exec(e.detail ?? '')![1]));
    expect(drains.some((n) => n > 0), drains.join(',')).toBe(true);
    expect(r.trace.some((e) => e.kind === 'exit' && !(e.detail ?? '').startsWith('0 tasks'))).toBe(true);
  }, 120_000);

  it('a server crash or restart aimed at a scheduled compaction lands in it, the schedule ends with the process and starts again with the next one, and the run converges (wide.crashInCompaction)', async () => {
    const base = buildConfig({ seed: 'crash-in-compaction', profile: 'none', clients: 3, steps: 150 });
    const config = {
      ...base, dbLatencyMs: 5, faults: { ...base.faults, serverCrash: 0.03, serverRestart: 0.02 }, serverProcess: { compaction: { everyMs: 1_000, keepVersions: 0 } },
      wide: { ...profiles.chaos.wide!, hostileRate: 0, intruderRate: 0, failingRate: 0, bigDocRate: 0, crashInCompaction: true, shortDrainMs: 0 },
    };
    const r = await runSimulation(config, getStores());
    expect(r.verdict, r.violations.map((v) => v.message).join('\n')).toBe('converged');
    const aimed = r.trace.findIndex((e) => e.kind === 'crash-aimed' && e.detail === 'a scheduled compaction began');
    expect(aimed).toBeGreaterThanOrEqual(0);
    // The crash follows, and a scheduled compaction completes after the restart.
    const crash = r.trace.findIndex((e, i) => i > aimed && e.kind === 'crash');
    expect(crash).toBeGreaterThan(aimed);
    expect(r.trace.some((e, i) => i > crash && e.kind === 'compact' && (e.detail ?? '').startsWith('scheduled'))).toBe(true);
    // A deploy aimed the same way: its drain stops the schedule while a compaction runs.
    expect(r.trace.some((e) => e.kind === 'restart-aimed' && e.detail === 'a scheduled compaction began')).toBe(true);
  }, 120_000);

  it('tries the first start on a PGlite data directory with a typo: refused, and the directory removed (wide.pgliteDirStart)', async () => {
    const dirs = () => readdirSync(tmpdir()).filter((d) => d.startsWith('lockstep-sim-datadir-')).length;
    const before = dirs();
    const base = buildConfig({ seed: 'datadir', profile: 'none', clients: 2, steps: 20 });
    const r = await runSimulation({ ...base, wide: { ...profiles.chaos.wide!, pgliteDirStart: true } }, getStores());
    expect(r.verdict, r.violations.map((v) => v.message).join('\n')).toBe('converged');
    expect(r.trace.filter((e) => e.kind === 'start-refused').map((e) => e.detail)).toEqual(['pglite-dir-page-bytes-zero']);
    expect(dirs()).toBe(before);
  }, 120_000);

  it('an app mutator whose server side writes a bad key or document is recorded as failed, each kind, and the run converges (wide.sloppyTagRate)', async () => {
    const limits = resolveLimits();
    for (let how = 0; how < 6; how++) {
      const out = await runMutator(createRegistry(labelMutators), { name: 'tag', args: { type: 'comment', id: 'c1', how }, clientID: 'c', mutationID: 1 }, 'server', async () => undefined);
      expect(out.error).toBeUndefined();
      expect(checkEffects(out.effects, limits).error, `how ${how}`).toMatch(/^(entity key .*: (must be type\/id|too long|.*NUL.*)|document comment\/c1: .+)$/);
    }
    const base = buildConfig({ seed: 'sloppy-tag', profile: 'none', clients: 3, steps: 120 });
    const r = await runSimulation({ ...base, wide: { ...profiles.chaos.wide!, hostileRate: 0, intruderRate: 0, failingRate: 0, bigDocRate: 0, sloppyTagRate: 0.15 } }, getStores());
    expect(r.verdict, r.violations.map((v) => v.message).join('\n')).toBe('converged');
    expect(r.stats.faults['push-effect-refused'] ?? 0).toBeGreaterThan(0);
  }, 120_000);

  it('the schedule compacts as production does (no upTo), the archive read inside its transaction keeps every checker whole, and the run converges (wide.compactUnbounded)', async () => {
    const base = buildConfig({ seed: 'unbounded', profile: 'none', clients: 3, steps: 150 });
    const config = {
      ...base, dbLatencyMs: 5, faults: { ...base.faults, compaction: 0.02 }, serverProcess: { compaction: { everyMs: 700, keepVersions: 0 } },
      wide: { ...profiles.chaos.wide!, hostileRate: 0, intruderRate: 0, failingRate: 0.02, bigDocRate: 0, compactUnbounded: true },
    };
    const r = await runSimulation(config, getStores());
    expect(r.verdict, r.violations.map((v) => v.message).join('\n')).toBe('converged');
    const compacted = r.trace.filter((e) => e.kind === 'compact' && (e.detail ?? '').startsWith('scheduled')).map((e) => e.detail ?? '');
    expect(compacted.some((d) => !d.includes(' 0 rows dropped')), compacted.join('; ')).toBe(true);
  }, 120_000);

  it('a server crash aimed at the one-by-one fallback lands in it, and the run converges (wide.crashInFallback)', async () => {
    const base = buildConfig({ seed: 'crash-in-fallback', profile: 'none', clients: 3, steps: 150 });
    const config = { ...base, dbLatencyMs: 5, faults: { ...base.faults, serverCrash: 0.03 }, wide: { ...profiles.chaos.wide!, hostileRate: 0, intruderRate: 0, failingRate: 0, bigDocRate: 0, refusedLabelRate: 0.1, crashInFallback: true } };
    const r = await runSimulation(config, getStores());
    expect(r.verdict, r.violations.map((v) => v.message).join('\n')).toBe('converged');
    expect(r.trace.some((e) => e.kind === 'crash-aimed' && e.detail === 'a one-by-one fallback began')).toBe(true);
  }, 120_000);
});
