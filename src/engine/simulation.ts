/**
 * The one extension point for the simulator's planted bugs and checkers, and for nothing
 * else: production code never sets these hooks or calls these readers.
 *
 * - `SimulationHooks.createStore` (passed as `EngineOptions.simulation`) swaps in a
 *   ClientDatabase subclass; a planted bug overrides one of its protected steps
 *   (mutate, pendingMutations, applyPull, dropAcknowledged, replay, ...).
 * - `rebaseCheck`, `expectedVisible` and `snapshotWithCookie` read a store for the live
 *   checkers; they take an optional Db so that a checker can read outside the scheduler.
 * - `syncLoopRun` and `syncLoopState` let the simulator run an engine's real SyncLoop as one
 *   scheduler task (the task awaits the loop's promise) and say what a stuck client waits on.
 */
import { runMutator, type EntityData, type Limits, type Mutation, type MutatorRegistry } from '../protocol/index.ts';
import { quoteIdent, type Db } from '../db/types.ts';
import type { ClientDatabase } from './client-database.ts';
import type { PersistentSyncEngine } from './persistent-sync-engine.ts';
import type { SyncLoop } from './sync-loop.ts';
import type { DeferredWrites } from './deferred-writes.ts';
import type { Timer } from '../seams/index.ts';

export interface SimulationHooks {
  /** Builds the client store instead of `new ClientDatabase(...)`. */
  createStore?: (db: Db, schema: string, registry: MutatorRegistry, limits: Limits) => ClientDatabase;
  /** The deferred mode's background work (its flush timer) as a scheduler task, with that task's timer. */
  background?: { spawn: (name: string, run: () => Promise<void>) => void; timer: Timer };
}

/** The simulator's crash of a deferred-mode engine: its memory is gone; returns the unflushed writes it lost. */
export function crashEngine(engine: PersistentSyncEngine): Mutation[] {
  const deferred: DeferredWrites | undefined = engine['deferred'];
  return deferred ? deferred.abandon() : [];
}

/**
 * The expected visible state (snapshot with every pending mutation replayed in id order,
 * computed in memory) and the stored one, read in one transaction so they are comparable.
 */
export async function rebaseCheck(store: ClientDatabase, db: Db = store.db): Promise<{ expected: Map<string, EntityData>; visible: Map<string, EntityData> }> {
  return db.transaction(async (tx) => {
    const state = await store.snapshotMap(tx);
    const meta = (await store.readMeta(tx))!;
    // Mutation id order, read here rather than through the store: a planted bug may override it.
    const pending = await tx.query<{ mutation_id: number; name: string; args: unknown }>(`SELECT mutation_id, name, args FROM ${quoteIdent(store.schema)}.pending ORDER BY mutation_id`);
    for (const m of pending.rows) {
      const outcome = await runMutator(store.registry, { name: m.name, args: m.args, clientID: meta.clientID, mutationID: Number(m.mutation_id) }, 'client', async (k) => state.get(k), { limits: store.limits });
      for (const e of outcome.effects) {
        if (e.op === 'put') state.set(e.key, e.value);
        else state.delete(e.key);
      }
    }
    // A map's keys are distinct: never equal.
    const expected = new Map([...state].sort(([a], [b]) => (a < b ? -1 : 1)));
    return { expected, visible: await store.visibleMap(tx) };
  });
}

/** What the visible state must be: the snapshot with every pending mutation replayed in id order. */
export async function expectedVisible(store: ClientDatabase, db: Db = store.db): Promise<Map<string, EntityData>> {
  return (await rebaseCheck(store, db)).expected;
}

/** The confirmed snapshot with the cookie it belongs to, read in one transaction. */
export async function snapshotWithCookie(store: ClientDatabase, db: Db = store.db): Promise<{ cookie: number | null; snapshot: Map<string, EntityData> }> {
  return db.transaction(async (tx) => ({ cookie: (await store.readMeta(tx))!.cookie, snapshot: await store.snapshotMap(tx) }));
}

/** The engine's loop, read through private fields: only the simulator looks inside it. */
const loopOf = (engine: PersistentSyncEngine): SyncLoop => engine['loop'];

/**
 * The promise of the engine's running sync loop (it settles once the loop has stopped), or null
 * when the loop is not running. start() begins the loop synchronously; a scheduler task that calls
 * start() and then awaits this is the loop, so its sleeps park that task.
 */
export function syncLoopRun(engine: PersistentSyncEngine): Promise<void> | null {
  return loopOf(engine)['running'];
}

/** What the loop is doing, for a liveness failure: consecutive failed runs (its backoff exponent). */
export function syncLoopState(engine: PersistentSyncEngine): { active: boolean; failures: number } {
  const loop = loopOf(engine);
  return { active: loop.active, failures: loop['failures'] };
}
