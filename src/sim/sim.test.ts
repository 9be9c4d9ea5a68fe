/**
 * The simulator end to end: a seeded sweep must converge, runs are deterministic, replay files
 * reproduce their trace hash, planted bugs are caught by the harness itself and shrink small,
 * the regression corpus converges, and fast-check-generated schedules converge.
 */
import { readdirSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { bugs } from './bugs/index.ts';
import { runSimulation } from './run.ts';
import { buildConfig } from './scenario.ts';
import { shrink } from './shrink.ts';
import { readReplayFile, toReplayFile, writeReplayFile } from './replay-file.ts';
import { firstTraceDifference } from './sweep.ts';
import { keySpace, type ScheduleEvent } from './schedule.ts';
import { faultModules, type AnyFaultModule } from './faults/index.ts';
import type { Stores } from './world.ts';
import { useSimStores } from '../../test/support/sim-stores.ts';

const getStores = useSimStores();
let stores: Stores;
beforeAll(() => {
  stores = getStores();
});

const describeFailure = (r: Awaited<ReturnType<typeof runSimulation>>) =>
  r.violations.slice(0, 3).map((v) => `${v.checker}: ${v.message}`).join('\n');

describe('seeded sweep', () => {
  const cases = [
    ...Array.from({ length: 8 }, (_, i) => ({ seed: String(100 + i), profile: 'chaos' as const })),
    ...Array.from({ length: 8 }, (_, i) => ({ seed: String(200 + i), profile: 'swarm' as const })),
    { seed: '300', profile: 'crashy' as const },
    { seed: '301', profile: 'offline-heavy' as const },
    { seed: '302', profile: 'flaky' as const },
  ];
  it.each(cases)('seed $seed ($profile) converges', async ({ seed, profile }) => {
    const r = await runSimulation(buildConfig({ seed, profile }), stores);
    expect(r.verdict, `seed ${seed}: ${describeFailure(r)}\nreplay: npm run sim -- --seed ${seed} --profile ${profile}`).toBe('converged');
    expect(r.stats.mutations).toBeGreaterThan(50);
  });
});

describe('determinism', () => {
  it('runs a seed twice to the same trace hash, and names the first differing event when traces differ', async () => {
    for (const seed of ['det-1', 'det-2']) {
      const config = buildConfig({ seed, profile: 'swarm' });
      const [a, b] = [await runSimulation(config, stores), await runSimulation(config, stores)];
      expect(b.traceHash).toBe(a.traceHash);
      expect(firstTraceDifference(a.trace, b.trace)).toBeUndefined();
    }
    const a = await runSimulation(buildConfig({ seed: 'x', steps: 30 }), stores);
    const b = await runSimulation(buildConfig({ seed: 'y', steps: 30 }), stores);
    expect(firstTraceDifference(a.trace, b.trace)).toMatch(/^event \d+: first run/);
  });

  it('replays a replay file to the same trace hash and verdict', async () => {
    // The first seed that catches it: the sync loop's timing decides which one.
    let r = await runSimulation(buildConfig({ seed: '1', bug: 'non-idempotent-push', steps: 120 }), stores);
    for (let seed = 2; seed <= 10 && r.verdict !== 'violation'; seed++) r = await runSimulation(buildConfig({ seed: String(seed), bug: 'non-idempotent-push', steps: 120 }), stores);
    expect(r.verdict).toBe('violation');
    const dir = join('reports', 'test');
    mkdirSync(dir, { recursive: true });
    writeReplayFile(join(dir, 'replay.json'), toReplayFile(r));
    const file = readReplayFile(join(dir, 'replay.json'));
    const again = await runSimulation(file.config, stores, { schedule: file.schedule });
    expect(again.traceHash).toBe(r.traceHash);
    expect(again.violations.map((v) => v.message)).toEqual(r.violations.map((v) => v.message));
  });
});

describe('planted bugs', () => {
  it.each(bugs.map((b) => b.name))('the harness catches %s by itself within 25 seeds', async (name) => {
    for (let seed = 1; seed <= 25; seed++) {
      const r = await runSimulation(buildConfig({ seed: String(seed), profile: 'swarm', bug: name }), stores);
      if (r.verdict === 'violation') return;
    }
    expect.fail(`${name} escaped 25 seeds`);
  });

  it('shrinks a planted failure to a schedule of at most 12 events that replays with the same violation', async () => {
    // The first seed that catches it (as the zoo does); the sync loop's timing decides which one.
    // A short run of three clients: every trial is a full run with the real sync loops, and on
    // 40 steps the shrinker reaches its fixed point (2 events) in ~60 trials, far inside the budget.
    const config = (seed: number) => buildConfig({ seed: String(seed), profile: 'swarm', bug: 'non-idempotent-push', steps: 40, clients: 3 });
    let r = await runSimulation(config(1), stores);
    for (let seed = 2; seed <= 20 && r.verdict !== 'violation'; seed++) r = await runSimulation(config(seed), stores);
    expect(r.verdict).toBe('violation');
    const s = await shrink(r, stores, { budgetMs: 90_000 });
    expect(s.result.schedule.length).toBeLessThanOrEqual(12);
    expect(s.result.schedule.length).toBeLessThan(r.schedule.length);
    const again = await runSimulation(s.result.config, stores, { schedule: s.result.schedule });
    expect(again.traceHash).toBe(s.result.traceHash);
    // The shrinker keeps a candidate while the original's first kind of violation still occurs
    // (with this bug the engine also refuses an acknowledgement of an id it never created, which may come first).
    expect(again.violations.map((v) => v.checker)).toContain(r.violations[0]!.checker);
    expect(again.violations).toEqual(s.result.violations);
  }, 240_000); // every trial runs the clients' real sync loops through the heal
});

describe('regression corpus (scenarios/regressions)', () => {
  const dir = join('scenarios', 'regressions');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  it('is not empty', () => expect(files.length).toBeGreaterThan(0));
  // A file may record the planted bug it once failed on; the real engine must pass it.
  it.each(files)('%s converges on the real engine', async (f) => {
    const replay = readReplayFile(join(dir, f));
    const { bug: _bug, ...real } = replay.config;
    const r = await runSimulation(real, stores, { schedule: replay.schedule });
    expect(r.verdict, describeFailure(r)).toBe('converged');
  });
});

describe('fast-check properties', () => {
  const clients = 3;
  const t = fc.integer({ min: 0, max: 20_000 });
  const client = fc.integer({ min: 0, max: clients - 1 });
  const event: fc.Arbitrary<ScheduleEvent> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ t, kind: fc.constant('op' as const), client, op: fc.constant('upsert' as const), type: fc.constant('comment'), id: fc.constantFrom(...keySpace.comment), data: fc.record({ body: fc.string({ maxLength: 8 }) }) }) },
    { weight: 2, arbitrary: fc.record({ t, kind: fc.constant('op' as const), client, op: fc.constant('delete' as const), type: fc.constant('comment'), id: fc.constantFrom(...keySpace.comment) }) },
    { weight: 4, arbitrary: fc.record({ t, kind: fc.constant('op' as const), client, op: fc.constant('increment' as const), type: fc.constant('tally'), id: fc.constantFrom(...keySpace.tally), field: fc.constant('n'), by: fc.integer({ min: -3, max: 5 }) }) },
    { weight: 5, arbitrary: fc.record({ t, kind: fc.constant('sync' as const), client }) },
    // One arbitrary per fault module, from the registry.
    ...faultModules.filter((m) => !(m as AnyFaultModule).knownDefect).map((m) => ({ weight: 1, arbitrary: (m as AnyFaultModule).arbitrary(fc, t, client) as fc.Arbitrary<ScheduleEvent> })),
  );
  const schedule = fc.array(event, { minLength: 1, maxLength: 40 }).map((es) => [...es].sort((a, b) => a.t - b.t));

  it('every generated schedule of writes and faults converges under the chaos network', async () => {
    const seed = process.env.LOCKSTEP_SEED ? Number(process.env.LOCKSTEP_SEED) : undefined;
    let n = 0;
    await fc.assert(
      fc.asyncProperty(schedule, fc.integer({ min: 0, max: 1_000_000 }), async (events, simSeed) => {
        const config = buildConfig({ seed: `prop-${simSeed}`, profile: 'chaos', clients });
        const r = await runSimulation(config, stores, { schedule: events });
        if (r.verdict !== 'converged') {
          const file = join('reports', 'property-failures', `prop-${simSeed}-${++n}.json`);
          writeReplayFile(file, toReplayFile(r));
          throw new Error(`${describeFailure(r)}\nreplay file: ${file} (npm run sim -- replay ${file})`);
        }
      }),
      { numRuns: Number(process.env.LOCKSTEP_PROPERTY_RUNS ?? 40), seed, verbose: 1 },
    );
  });
});
