import type { Mutation } from '../protocol/index.ts';
import type { PersistentSyncEngine } from '../engine/index.ts';
import type { QueuedMutation, SimClient, World } from './world-types.ts';

/*
 * The engine's deferred durability mode under the simulator: a write is acknowledged (enters
 * `world.queued`, which every checker reads as "the app was told this write is safe") only once
 * the engine reports it stored (onFlushed), under the id it was stored with. A crash loses the
 * unflushed ones (client-crash.ts): never acknowledged, so no checker expects them; a lost flushed
 * write or a reused pushed id still fails no-lost-write and unique-mutation-ids.
 */

/** Stored before the workload's mutate() call returned: the record, to take the call's intent. */
const storedEarly = new WeakMap<Mutation, QueuedMutation>();
/** Returned but not stored yet: what the record will carry. */
const awaiting = new WeakMap<Mutation, Pick<QueuedMutation, 't' | 'intent'>>();

/** Called for every engine the world opens: its flushes acknowledge its writes. */
export function watchFlushes(world: World, c: SimClient, engine: PersistentSyncEngine): void {
  if (engine.durability !== 'deferred') return;
  engine.onFlushed((writes) => {
    for (const { requested, mutation: m } of writes) {
      const info = awaiting.get(requested);
      const q: QueuedMutation = { lane: c.name, clientID: m.clientID, mutationID: m.id, name: m.name, args: m.args, t: info?.t ?? world.sched.now, ...(info?.intent ? { intent: info.intent } : {}) };
      world.queued.push(q);
      if (!info) storedEarly.set(requested, q);
    }
    const first = writes[0]!.mutation;
    world.sched.record(c.name, 'flushed', `${writes.length} as ${first.clientID} #${first.id}..${writes[writes.length - 1]!.mutation.id}`);
  });
}

/** A deferred write the workload made: acknowledged at its flush (see watchFlushes). */
export function acknowledgeOnFlush(m: Mutation, t: number, intent?: QueuedMutation['intent']): void {
  const early = storedEarly.get(m);
  if (early) {
    early.t = t;
    if (intent) early.intent = intent;
  } else awaiting.set(m, { t, ...(intent ? { intent } : {}) });
}
