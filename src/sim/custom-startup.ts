import { PersistentSyncEngine, type EngineOptions } from '../engine/index.ts';
import { defineMutator, upsertArgsSchema } from '../protocol/index.ts';
import { violation } from './findings.ts';
import type { Violation } from './checkers/types.ts';
import type { SimClient, World } from './world-types.ts';

type Reporter = World & { reportViolation(v: Violation): void };

/**
 * wide.appLifecycle: an app's configuration mistakes at startup (a batch size parsed as 0, its own
 * mutator named like a built-in), each tried before the app opens its engine properly. open()
 * must refuse each with its clear error before it touches the store (no statement, no draw: the
 * run's trace is as without them).
 */
export async function misconfiguredOpens(world: Reporter, c: SimClient, options: EngineOptions): Promise<void> {
  const mistakes: [string, EngineOptions, RegExp][] = [
    ['a push batch of 0', { ...options, pushBatchSize: 0 }, /^invalid engine options: pushBatchSize: /],
    ['a mutator named "upsert"', { ...options, mutators: { ...options.mutators, upsert: defineMutator(upsertArgsSchema, async () => {}) } }, /^mutator "upsert" would shadow a built-in mutator$/],
  ];
  for (const [what, o, expected] of mistakes) {
    const outcome = await PersistentSyncEngine.open(o).then(
      () => 'opened',
      (e: Error) => (expected.test(e.message) ? undefined : `failed with "${e.message}"`),
    );
    world.countFault('app-misconfigured');
    if (outcome) world.reportViolation(violation('app-lifecycle', `${c.name}: an engine opened with ${what} ${outcome}, not with its clear error`, { lane: c.name, t: world.sched.now }));
  }
}

/** The sync loop started with a negative interval must refuse it with its clear error (and start nothing). */
export function misconfiguredStart(world: Reporter, c: SimClient, engine: PersistentSyncEngine): void {
  try {
    engine.start({ intervalMs: -1 });
  } catch (e) {
    world.countFault('app-misconfigured');
    if (/^invalid sync loop options: intervalMs: /.test((e as Error).message)) return;
    throw e;
  }
  world.reportViolation(violation('app-lifecycle', `${c.name}: the sync loop started with intervalMs -1`, { lane: c.name, t: world.sched.now }));
}
