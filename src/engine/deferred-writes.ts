import { encodedBytes, runMutator, type EntityData, type JSONValue, type Mutation } from '../protocol/index.ts';
import { untilAborted, type Timer } from '../seams/index.ts';
import { MutationRejectedError, toChange, type ClientDatabase, type DeferredWrite, type EntityChange } from './client-database.ts';

/** Defaults of the deferred mode's limits (EngineOptions.flushIntervalMs, maxUnflushedWrites, maxUnflushedBytes). */
export const defaultDeferredLimits = { flushIntervalMs: 50, maxUnflushedWrites: 1_000, maxUnflushedBytes: 1024 * 1024 };
export type DeferredLimits = typeof defaultDeferredLimits;

/** A deferred write now stored: `requested` is the Mutation its mutate() returned, `mutation` how it was stored (another id after a rerun). */
export interface FlushedWrite {
  requested: Mutation;
  mutation: Mutation;
}

export interface DeferredDeps {
  store: ClientDatabase;
  timer: Timer;
  /** Starts background work (the flush timer); the simulator makes it a scheduler task. */
  spawn: (name: string, run: () => Promise<void>) => void;
  limits: DeferredLimits;
  /** Entity changes a rerun made (its writes now do something else than memory showed). */
  onChanges: (changes: EntityChange[]) => void;
  onFlushed: (writes: FlushedWrite[]) => void;
  onError: (e: unknown) => void;
}

interface Unflushed extends DeferredWrite {
  seq: number;
  bytes: number;
}

/**
 * The deferred durability mode (EngineOptions.durability 'deferred', Replicache-like): a local
 * write runs its mutator against memory (this overlay over the visible state) and resolves; the
 * writes reach the database in one statement per flush, at most flushIntervalMs after the first
 * unflushed one, or sooner (push, pull, close, stop, flush(), a query, a limit reached). A crash
 * loses exactly the unflushed writes: they were never pushed (push flushes first and sends only
 * stored mutations), so their ids are free for the next incarnation to reuse.
 */
export class DeferredWrites {
  private queue: Unflushed[] = [];
  /** Each key's document as the unflushed writes left it (text null: deleted) and the last write's seq. */
  private readonly overlay = new Map<string, { text: string | null; seq: number }>();
  private bytes = 0;
  private seq = 0;
  /** The identity and id the next write takes: from the store when nothing is unflushed. */
  private next: { clientID: string; id: number } | undefined;
  /** The flush in progress: aborted when it ends (waited for on the Timer seam, so a simulator's scheduler sees the wait). */
  private flushing: AbortController | null = null;
  private timer: AbortController | null = null;
  private abandoned = false;

  constructor(private readonly deps: DeferredDeps) {}

  get unflushedCount(): number {
    return this.queue.length;
  }

  /** A document as this engine sees it: the overlay's, or undefined when the overlay does not hold the key. */
  overlaid(key: string): { data: EntityData | undefined } | undefined {
    const o = this.overlay.get(key);
    return o && { data: o.text === null ? undefined : (JSON.parse(o.text) as EntityData) };
  }

  /** Whether an unflushed write touched a document of this type (undefined: of any type). */
  touches(type: string | undefined): boolean {
    if (this.overlay.size === 0) return false;
    if (type === undefined) return true;
    const prefix = `${type}/`;
    for (const key of this.overlay.keys()) if (key.startsWith(prefix)) return true;
    return false;
  }

  /** Runs the mutator against memory and queues the write; throws MutationRejectedError (nothing queued) as mutate does. */
  async mutate(name: string, args: JSONValue, timestamp: number): Promise<{ mutation: Mutation; changes: EntityChange[] }> {
    const { store, limits } = this.deps;
    store.checkArgs(name, args);
    const size = encodedBytes(args) + name.length;
    // At a limit the write waits for a flush (back-pressure, never an error); a write bigger than maxUnflushedBytes then goes alone.
    if (this.queue.length >= limits.maxUnflushedWrites || (this.queue.length > 0 && this.bytes + size > limits.maxUnflushedBytes)) await this.flush();
    let next: { clientID: string; id: number } | undefined = this.next;
    if (!next) {
      const w = await store.nextWrite();
      next = { clientID: w.clientID, id: w.nextMutationID };
    }
    this.next = next;
    const { clientID, id } = next;
    const reads: DeferredWrite['reads'] = [];
    const read = async (key: string) => {
      const o = this.overlay.get(key);
      const text = o ? o.text : await store.visibleText(key);
      reads.push({ key, data: text });
      return text === null ? undefined : (JSON.parse(text) as EntityData);
    };
    const outcome = await runMutator(store.registry, { name, args, clientID, mutationID: id }, 'client', read, { limits: store.limits });
    if (outcome.error !== undefined) {
      // Nothing unflushed: the store's next id decides again (a durable adopt may take it meanwhile).
      if (this.queue.length === 0 && this.next === next) this.next = undefined;
      throw new MutationRejectedError(outcome.error);
    }
    // A read awaited the database: another write (or a flush's rerun) may have taken this id meanwhile.
    if (this.next !== next) return this.mutate(name, args, timestamp);
    const mutation: Mutation = { clientID, id, name, args, timestamp };
    const seq = ++this.seq;
    let bytes = size;
    for (const e of outcome.effects) {
      const text = e.op === 'put' ? JSON.stringify(e.value) : null;
      bytes += text?.length ?? 0;
      this.overlay.set(e.key, { text, seq });
    }
    this.queue.push({ mutation, effects: outcome.effects, reads, seq, bytes });
    this.bytes += bytes;
    next.id = id + 1;
    this.arm();
    return { mutation, changes: outcome.effects.map(toChange) };
  }

  /** Stores every write made before the call (one statement per batch); resolves once they are durable. */
  async flush(): Promise<void> {
    const target = this.seq;
    while (!this.abandoned && this.queue.length > 0 && this.queue[0]!.seq <= target) {
      const running = this.flushing;
      if (running) {
        await untilAborted(this.deps.timer, running.signal);
        continue;
      }
      const mine = new AbortController();
      this.flushing = mine;
      try {
        await this.flushOnce();
      } finally {
        if (this.flushing === mine) this.flushing = null;
        mine.abort('flushed');
      }
    }
  }

  /**
   * The process died (the simulator's crash): memory is gone, unflushed writes with it. Returns
   * them; nothing of this instance writes again.
   */
  abandon(): Mutation[] {
    this.abandoned = true;
    this.timer?.abort('abandoned');
    const lost = this.queue.map((u) => u.mutation);
    this.queue = [];
    this.overlay.clear();
    return lost;
  }

  private async flushOnce(): Promise<void> {
    const batch = this.queue.slice();
    const result = await this.deps.store.flushDeferred(batch);
    if (this.abandoned) return;
    this.queue = this.queue.slice(batch.length);
    const last = batch[batch.length - 1]!.seq;
    for (const [key, o] of this.overlay) if (o.seq <= last) this.overlay.delete(key);
    for (const u of batch) this.bytes -= u.bytes;
    // Renumbered (a rerun): later writes still carry the old numbering; their flush finds it stale and reruns too.
    if (this.queue.length === 0) {
      this.next = undefined;
      this.timer?.abort('flushed');
      this.timer = null;
    } else this.arm();
    if (result.rerun) this.deps.onChanges(result.changes);
    this.deps.onFlushed(batch.map((u, i) => ({ requested: u.mutation, mutation: result.mutations[i]! })));
  }

  /** The flush timer, from the first unflushed write (through the Timer seam, as background work). */
  private arm(): void {
    if (this.timer || this.abandoned) return;
    const abort = new AbortController();
    this.timer = abort;
    this.deps.spawn('flush', async () => {
      try {
        await this.deps.timer.sleep(this.deps.limits.flushIntervalMs, abort.signal);
      } catch {
        return; // flushed meanwhile, or abandoned
      }
      if (this.timer === abort) this.timer = null;
      try {
        await this.flush();
      } catch (e) {
        this.deps.onError(e);
      }
    });
  }
}
