import type { PersistentSyncEngine } from '../engine/index.ts';
import { MutationRejectedError } from '../engine/index.ts';
import type { SimClient, World } from './world-types.ts';
import type { LogEntry } from '../server/types.ts';

/*
 * What the checkers must know when a client's identity changes: the engine's reset after
 * ClientStateNotFound (it re-queues pending mutations under a new client id), and a move to a new
 * client group after the group's token was lost. The world's `queued` records follow each
 * mutation to its new (clientID, id), so no-lost-write and exactly-once look for it there.
 */

interface IdentityState {
  /** Virtual times at which the server lost acknowledged writes on purpose (storage loss, restore). */
  dataLoss: number[];
  /** Client ids a group move left behind: only acknowledged writes stay under them (pending ones moved). */
  retired: Set<string>;
}
const states = new WeakMap<World, IdentityState>();
function state(world: World): IdentityState {
  let s = states.get(world);
  if (!s) states.set(world, (s = { dataLoss: [], retired: new Set() }));
  return s;
}

/**
 * A fault made the server forget acknowledged writes (clients that had them start over).
 * `keptArchive` is the archive of compacted log entries that belongs to the database the server
 * now has (none after a storage loss; after a restore, the archive as it was when the backup was
 * taken, up to the backup's horizon). The archive is one database lineage's history: what the
 * current one holds above the new database's horizon belonged to the lost database, and below it a
 * storage loss between backup and restore has already emptied it (the restored log then started
 * past an empty archive: swarm seed 11, "log entry 1 has version 12"). Kept, it
 * was mixed by version with the new database's entries and, worse, made the next compaction
 * archive only above the lost database's top version: writes of the new database compacted below
 * it vanished from the history (swarm seed 18: no-lost-write, exactly-once and log-replay
 * violations; regression compaction-across-storage-loss-archive).
 */
export function markServerDataLoss(world: World, keptArchive: readonly LogEntry[]): void {
  state(world).dataLoss.push(world.sched.now);
  // An id a group move left behind never resets (nothing uses it any more), so the reset below
  // never says that what it had acknowledged is gone: say it here. A move whose bookkeeping comes
  // after the loss does the same itself (a fast-check schedule had the loss 2 ms before it).
  for (const id of state(world).retired) world.wipedClientIDs.add(id);
  world.compactedLog.splice(0, world.compactedLog.length, ...keptArchive);
}

/** Called for every engine the world opens: its resets re-map the queued records. */
export function watchEngine(world: World, c: SimClient, engine: PersistentSyncEngine): void {
  engine.onReset((e) => {
    // The world's record of the client's id follows (a storage wipe while the client is down excuses c.clientID).
    if (c.engine === engine || c.clientID === e.previousClientID) c.clientID = e.clientID;
    const moved = followMapping(world, e.previousClientID, e.clientID, e.requeued);
    world.sched.record(c.name, 'reset', `${e.previousClientID} -> ${e.clientID} (${e.reason}), ${moved} re-queued`);
    // What the old id had acknowledged lived only in the lost database: legitimately gone. A reset
    // with no such loss keeps the old id's writes checked (losing them would be a real defect).
    if (state(world).dataLoss.length > 0) world.wipedClientIDs.add(e.previousClientID);
  });
}

/** Moves each queued record of `from` to its new client id and mutation id; returns how many moved. */
function followMapping(world: World, from: string, to: string, mapping: { from: number; to: number }[]): number {
  const next = new Map(mapping.map((m) => [m.from, m.to]));
  let moved = 0;
  for (const q of world.queued) {
    if (q.clientID !== from || !next.has(q.mutationID)) continue;
    (q.formerIDs ??= []).push(`${q.clientID}#${q.mutationID}`);
    q.clientID = to;
    q.mutationID = next.get(q.mutationID)!;
    moved++;
  }
  return moved;
}

/**
 * The client group is bound to a token this client no longer has (409 on register): as the demo
 * does (src/app/demo/open-engine.ts), the client moves to a new client group in a fresh store and
 * re-queues its pending mutations there (engine.adopt: each carries its earlier identities as
 * origins, so one the server applied but whose answer was lost is not applied again). Runs as
 * its own task, like a reload.
 */
const moving = new WeakSet<PersistentSyncEngine>();

/** A group move of this engine has begun (heal is not quiescent until the client runs on the new one). */
export function isMoving(engine: PersistentSyncEngine): boolean {
  return moving.has(engine);
}

export async function moveToNewGroup(world: World, c: SimClient, old: PersistentSyncEngine): Promise<void> {
  if (c.engine !== old || moving.has(old)) return; // already moving, moved, crashed or wiped
  moving.add(old);
  c.generation++;
  const next = await world.openEngine(c);
  const mapping: { from: number; to: number }[] = [];
  const requeue = async () => {
    const done = new Set(mapping.map((m) => m.from));
    let n = 0;
    for (const m of await old.pendingMutations()) {
      if (done.has(m.id)) continue;
      n++;
      try {
        const r = await next.adopt(m);
        mapping.push({ from: m.id, to: r.id });
      } catch (e) {
        if (!(e instanceof MutationRejectedError)) throw e;
        mapping.push({ from: m.id, to: -1 });
        world.sched.record(c.name, 'requeue-refused', `${m.name} #${m.id}: ${e.message}`);
      }
    }
    return n;
  };
  // Until the swap, new writes still land in the old store; move until a pass finds none new.
  while ((await requeue()) > 0) {
    /* again */
  }
  const bookkeeping = () => {
    followMapping(world, old.clientID, next.clientID, mapping.filter((m) => m.to > 0));
    // As for a reset: what the old id had acknowledged may have lived only in a database lost since
    // (a move can come before the reset that would have said so); its re-queued writes stay checked.
    if (state(world).dataLoss.length > 0) world.wipedClientIDs.add(old.clientID);
    state(world).retired.add(old.clientID);
    world.sched.record(c.name, 'moved-group', `${old.clientGroupID} -> ${next.clientGroupID}, ${mapping.length} re-queued as ${next.clientID}`);
  };
  if (c.engine !== old) {
    // The client went down during the move (a crash, a second token loss): no write can reach the
    // old store any more, and every one it had is adopted. Its restart opens the new store (the
    // generation moved on), so the records must follow there as for a finished move; returning
    // without this left them under the old id. The engine opened here is not the client's.
    bookkeeping();
    if (c.engine !== next) world.sched.spawn(c.name, 'stop-loop', () => next.stop());
    return;
  }
  c.engine = next;
  // A write already under way in the old store when we swapped (a statement takes at most dbLatencyMs) follows.
  await world.sched.sleep(1_000);
  await requeue();
  bookkeeping();
}
