/**
 * An exception out of production code during a seed is a finding of that seed: a violation
 * (engine-error / server-error) with the stack, replayable and shrinkable, and the shared
 * databases are left usable (no transaction left open for later runs and tests).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ClientDatabase } from '../engine/client-database.ts';
import type { Queryable } from '../db/types.ts';
import type { EffectOp } from '../protocol/index.ts';
import type { BugVariant } from './bugs/types.ts';
import { runSimulation } from './run.ts';
import { buildConfig } from './scenario.ts';
import { shrink } from './shrink.ts';
import { readReplayFile, toReplayFile, writeReplayFile } from './replay-file.ts';
import type { Stores } from './world.ts';
import { useSimStores } from '../../test/support/sim-stores.ts';
import { errorChecker } from './findings.ts';

const getStores = useSimStores();
let stores: Stores;
beforeAll(() => {
  stores = getStores();
});

/** Throws from inside the client's mutation transaction on the 7th local write of a store. */
class ThrowingStore extends ClientDatabase {
  private writes = 0;
  protected override async queueAndApply(q: Queryable, m: Parameters<ClientDatabase['queueAndApply']>[1], effects: readonly EffectOp[]): Promise<boolean> {
    const written = await super.queueAndApply(q, m, effects);
    if (effects.length && ++this.writes === 7) throw new Error('duplicate key value violates unique constraint "pending_pkey" (planted)');
    return written;
  }
}
const throwing: BugVariant = { name: 'throwing-store', description: 'test only', createStore: (db, schema, registry) => new ThrowingStore(db, schema, registry) };

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms: a transaction was left open`)), ms))]);

describe('unexpected exceptions', () => {
  it('classifies by the innermost production frame', () => {
    const e = new Error('x');
    e.stack = 'Error: x\n    at f (/w/src/sim/run.ts:1:1)\n    at g (/w/src/server/push.ts:2:2)\n    at h (/w/src/engine/sync-loop.ts:3:3)';
    expect(errorChecker(e)).toBe('server-error');
    e.stack = 'Error: x\n    at f (/w/src/sim/run.ts:1:1)';
    expect(errorChecker(e)).toBe('sim-error');
  });

  it('a throwing client store is an engine-error of the seed, replays, and leaves the databases usable', async () => {
    const config = buildConfig({ seed: '11', profile: 'none', steps: 80, clients: 3 });
    const r = await runSimulation(config, stores, { bug: throwing });
    expect(r.verdict).toBe('violation');
    const v = r.violations.find((x) => x.checker === 'engine-error');
    expect(v, JSON.stringify(r.violations.slice(0, 3))).toBeDefined();
    expect(v!.message).toContain('pending_pkey');
    expect(v!.message).toMatch(/src[/\\]engine[/\\]client-database\.ts:\d+/);
    // Nothing is left inside a transaction: both shared databases answer at once.
    await withTimeout(stores.clients.query('SELECT 1'), 2_000);
    await withTimeout(stores.server.query('SELECT 1'), 2_000);
    await withTimeout(stores.clients.transaction(async (tx) => tx.query('SELECT 1')), 2_000);

    // Replay reproduces it exactly, like any other violation.
    const file = `/tmp/lockstep-exceptions-${process.pid}.json`;
    writeReplayFile(file, toReplayFile(r));
    const replay = readReplayFile(file);
    const again = await runSimulation(replay.config, stores, { schedule: replay.schedule, bug: throwing });
    expect(again.traceHash).toBe(r.traceHash);
    expect(again.violations[0]!.checker).toBe(r.violations[0]!.checker);

    // And the real code, same schedule, converges.
    const real = await runSimulation(config, stores, { schedule: r.schedule });
    expect(real.verdict, JSON.stringify(real.violations.slice(0, 2))).toBe('converged');
  }, 120_000);

  it('a sweep goes on after such a seed: the next run on the same stores converges', async () => {
    const r = await runSimulation(buildConfig({ seed: '12', profile: 'none', steps: 60, clients: 2 }), stores);
    expect(r.verdict).toBe('converged');
  }, 60_000);
});
