import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineMutator } from '../../protocol/index.ts';
import { buildConfig } from '../scenario.ts';
import { generateSchedule, scheduleEventSchema, workloadEvent } from '../schedule.ts';
import { Rng } from '../rng.ts';
import { defineSimulation } from './define.ts';
import { appWorkload } from './workload.ts';
import { entitiesView } from './checkers.ts';
import { failureMessage } from './vitest.ts';
import { withSimulationFaults } from './config.ts';
import fc from 'fast-check';
import { checkSimulation } from './check.ts';
import { drawsRandom } from './draws.ts';
import { simulationSchedule } from './property.ts';
import { propertyFailureMessage } from './vitest.ts';

const bump = defineMutator(z.object({ id: z.string(), by: z.number().int().positive() }), async (tx, a) => {
  tx.put('n', a.id, { v: (((await tx.get('n', a.id))?.v as number) ?? 0) + a.by });
});
const sim = (by: number) => defineSimulation({
  name: 'unit', version: 1, mutators: { bump },
  workload: (r) => ({ name: 'bump', args: { id: r.pick(['a', 'b']), by } }),
  invariants: { positive: { final: (s) => s.all('n').every((d) => (d.v as number) > 0) } },
  faults: { clients: 2, network: { dropRate: 0.2 } },
});

describe('simulation API', () => {
  it('records the defining file and refuses shadowing a built-in mutator', () => {
    expect(sim(1).file).toMatch(/app\.test\.ts$/);
    expect(() => defineSimulation({ name: 'x', version: 1, mutators: { upsert: bump }, workload: () => null, invariants: { a: { final: () => true } } })).toThrow(/shadow a built-in/);
  });

  it('draws the workload into explicit, schema-valid mutate events, the same for the same seed', () => {
    const config = buildConfig({ seed: '7', steps: 60, profile: 'none', simulation: { name: 'unit', version: 1 } });
    const gen = () => generateSchedule(new Rng('7').fork('schedule'), config, appWorkload(sim(2), workloadEvent));
    const events = gen();
    expect(events).toEqual(gen());
    const mutates = events.filter((e) => e.kind === 'mutate');
    expect(mutates.length).toBeGreaterThan(20);
    expect(events.some((e) => e.kind === 'sync')).toBe(true);
    for (const e of events) expect(scheduleEventSchema.safeParse(e).success).toBe(true);
    expect(mutates[0]).toMatchObject({ kind: 'mutate', name: 'bump', args: { by: 2 } });
  });

  it('fails at generation, naming the step, when the workload draws args its mutator refuses', () => {
    const config = buildConfig({ seed: '1', steps: 10, profile: 'none' });
    expect(() => generateSchedule(new Rng('1'), config, appWorkload(sim(-1), workloadEvent))).toThrow(/workload step \d+ drew invalid args for "bump".*by/);
  });

  it('puts its fault defaults between the scenario and the flags', () => {
    const sc = withSimulationFaults({ name: 'default', clients: 8, network: { reorderRate: 0.1 } }, sim(1));
    expect(sc).toMatchObject({ clients: 2, network: { reorderRate: 0.1, dropRate: 0.2 } });
    expect(buildConfig({ seed: '1', clients: 5, scenario: sc }).clients).toBe(5);
  });

  it('shows entities by type with their ids and sums', () => {
    const v = entitiesView(new Map([['n/a', { v: 2 }], ['n/b', { v: 3 }], ['m/x', { v: 'no' }]]));
    expect(v.all('n')).toEqual([{ id: 'a', v: 2 }, { id: 'b', v: 3 }]);
    expect(v.sum('n', 'v')).toBe(5);
    expect(v.sum('m', 'v')).toBe(0);
    expect(v.get('m', 'x')).toEqual({ id: 'x', v: 'no' });
  });

  it('reads fast-check draws as the workload random source: 0 is the first choice, and past the draws it reads 0', () => {
    const r = drawsRandom([0, 2 ** 31 - 1, 2 ** 30]);
    expect(r.pick(['a', 'b', 'c'])).toBe('a');
    expect(r.int(1, 80)).toBe(80);
    expect(r.bool()).toBe(false);
    expect([r.next(), r.int(3, 9), r.pick(['x', 'y'])]).toEqual([0, 3, 'x']);
  });

  it('generates schema-valid schedules of the workload operations, syncs and the profile faults, sorted by time', () => {
    const config = buildConfig({ seed: 'p', profile: 'chaos', clients: 2, steps: 40, simulation: { name: 'unit', version: 1 } });
    const runs = fc.sample(simulationSchedule(sim(3), config, { maxEvents: 12 }), { numRuns: 30, seed: 5 });
    const events = runs.flat();
    for (const es of runs) expect(es.map((e) => e.t)).toEqual([...es.map((e) => e.t)].sort((a, b) => a - b));
    for (const e of events) {
      expect(scheduleEventSchema.safeParse(e).success).toBe(true);
      expect(e.t).toBeLessThanOrEqual(40 * config.stepMs);
    }
    expect(events.find((e) => e.kind === 'mutate')).toMatchObject({ name: 'bump', args: { by: 3 } });
    expect(events.some((e) => e.kind === 'sync')).toBe(true);
    expect(events.some((e) => e.kind !== 'mutate' && e.kind !== 'sync')).toBe(true);
    const none = buildConfig({ seed: 'p', profile: 'none', clients: 2, steps: 40 });
    expect(fc.sample(simulationSchedule(sim(3), none), { numRuns: 20, seed: 5 }).flat().every((e) => e.kind === 'mutate' || e.kind === 'sync')).toBe(true);
  });

  it('refuses workers for a simulation with no file, saying to pass one', async () => {
    const { file: _file, ...noFile } = sim(1);
    await expect(checkSimulation(noFile as ReturnType<typeof sim>, { workers: 2, seeds: 2, env: {} })).rejects.toThrow(/workers load the simulation by its file.*pass \{ file/);
  });

  it('fails a property test with the violation, the fast-check seed and path, the replay file and both commands', () => {
    const msg = propertyFailureMessage({ ok: false, numRuns: 6, seconds: 50, failure: { violation: { checker: 'bank/no-overdraft', message: 'overdrawn: d -12' }, fcSeed: 1, fcPath: '5:0:2', numRuns: 6, numShrinks: 20, firstEvents: 11, events: 9, traceHash: 'a', replayFile: 'r/fc-1.min.json', shrinkSeconds: 20 } }, 'examples/bank/bank.test.ts', 'bank (fast-check)');
    expect(msg).toContain('bank/no-overdraft: overdrawn: d -12');
    expect(msg).toContain('fast-check seed 1, path "5:0:2": failed after 6 generated schedules, shrunk 20 times in 20 s from 11 to 9 events: r/fc-1.min.json');
    expect(msg).toMatch(/replay: +(npm run sim --|npx lockstep) replay r\/fc-1\.min\.json/);
    expect(msg).toContain(`reproduce: LOCKSTEP_FC_SEED=1 LOCKSTEP_FC_PATH='5:0:2' npx vitest run examples/bank/bank.test.ts -t 'bank \\(fast-check\\)'`);
  });

  it('fails a vitest run with the violation, the shrunk file and both commands', () => {
    const msg = failureMessage({ ok: false, seedsRun: 3, seconds: 9, failure: { seed: '3', violation: { checker: 'bank/no-overdraft', message: 'overdrawn: d -35' }, events: 120, shrunkEvents: 2, traceHash: 'a', shrunkTraceHash: 'b', replayFile: 'r/3.json', shrunkReplayFile: 'r/3.min.json', shrinkSeconds: 4 } }, 'examples/bank/bank.test.ts');
    expect(msg).toContain('bank/no-overdraft: overdrawn: d -35');
    expect(msg).toMatch(/shrunk 120 -> 2 events .*r\/3\.min\.json/);
    expect(msg).toMatch(/replay: +(npm run sim --|npx lockstep) replay r\/3\.min\.json/);
    expect(msg).toContain('LOCKSTEP_SEED=3 npx vitest run examples/bank/bank.test.ts');
  });
});
