import { KeyMix, Rng, type MixState } from './rng.ts';
import { Trace, type TraceEvent } from './trace.ts';

export type { TraceEvent };

/** Thrown into a task that was killed (its client or the server crashed) at its next park. */
export class Crash extends Error {
  override name = 'Crash';
}

/** The lane (owner) of the task whose failure `run` threw. */
export const failedLane = new WeakMap<Error, string>();

export class SchedulerLimitError extends Error {
  override name = 'SchedulerLimitError';
  /** The live tasks when the limit was hit (before the drain ended them), for a seed-timeout finding. */
  tasks?: string[];
}

type TaskState = 'new' | 'runnable' | 'blocked' | 'running' | 'done';

interface Task {
  readonly id: number;
  readonly owner: string;
  readonly name: string;
  /** owner + name: the order of ready tasks (then id). */
  readonly key: string;
  /** owner:name, as it goes into a pick's random stream. */
  readonly label: string;
  state: TaskState;
  /** Bumped at every change of state or wakeAt: a timer entry of an older stamp is stale. */
  stamp: number;
  /** In the ready list. */
  ready: boolean;
  wakeAt: number;
  killed: boolean;
  /** Waits asked for after the kill (each rejected at once with its Crash). */
  waitsAfterKill: number;
  /** Random choices made inside this task (statement latency), independent of other tasks; forked at first use (most tasks never draw). */
  rng: Rng | null;
  /** The name its stream is forked by. */
  readonly rngLabel: string;
  resume?: (error?: Error) => void;
}

export interface SchedulerLimits {
  /** Most task resumptions before the run is declared runaway. */
  maxSteps: number;
  /** Virtual time the run may not pass. */
  maxVirtualMs: number;
}

/** Waits a killed task may still ask for while it unwinds (each fails at once) before it counts as spinning. */
const maxWaitsAfterKill = 10_000;

/** A future that tasks can wait on through the scheduler (never with a bare await). */
export interface Future<T> {
  readonly settled: boolean;
  resolve(value: T): void;
  reject(error: Error): void;
}

/** A task due at `at` (a sleep's end, a wait's deadline), valid while the task's stamp is `stamp`. */
interface Timer {
  at: number;
  task: Task;
  stamp: number;
}

interface FutureImpl<T> extends Future<T> {
  value?: T;
  error?: Error;
  waiters: Task[];
}

/**
 * A deterministic cooperative scheduler with a virtual clock. Exactly one task runs at a time;
 * a task runs until it parks (sleep, yield, a future, a lock) or ends, then the seeded PRNG picks
 * the next runnable task. When none is runnable, virtual time jumps to the earliest wake-up.
 * Real PGlite calls resolve on their own (no timers), so the whole run is a function of the seed.
 */
export class Scheduler {
  now = 0;
  steps = 0;
  /** What happened, compactly (see Trace); `trace` gives it as event objects. */
  readonly traceLog = new Trace();
  private readonly rng: Rng;
  private readonly limits: SchedulerLimits;
  private readonly tasks = new Map<number, Task>();
  private nextId = 1;
  private current: Task | null = null;
  private parked: (() => void) | null = null;
  private readonly locks = new Map<string, { holder: Task | null; waiters: Task[] }>();
  private failure: Error | null = null;
  private draining = false;
  /** Runs between two task steps, while no task runs (the live checkers' observation). */
  betweenSteps: (() => Promise<void>) | null = null;
  private readonly taskSerial = new Map<string, number>();
  /**
   * Ready tasks (runnable, wakeAt <= now) in pick order (key, then id), kept up to date as tasks
   * park and wake rather than found by scanning and sorting every task at every step; a min-heap
   * of timers holds tasks that become due later (lazily deleted: stale stamps are skipped).
   */
  private readonly ready: Task[] = [];
  private readonly timers: Timer[] = [];
  /** Blocked tasks whose deadline came while others were ready: woken at the next time jump. */
  private dueBlocked: Timer[] = [];
  private readonly pickMix = new PickMix();

  constructor(rng: Rng, limits: SchedulerLimits) {
    this.rng = rng;
    this.limits = limits;
  }

  /**
   * The run's schema prefix (sim<pid>_<n>), which differs per process: an error message that names
   * a table (a sim-error, "relation sim123_4_server.replication_log does not exist") must not carry
   * it into the trace, or a replay's hash changes with the process id.
   */
  schemaPrefix: string | undefined;

  record(lane: string, kind: string, detail?: string): void {
    if (detail !== undefined && this.schemaPrefix !== undefined && detail.includes(this.schemaPrefix)) detail = detail.replaceAll(this.schemaPrefix, 'sim');
    this.traceLog.push(this.now, lane, kind, detail);
  }

  /** The trace as event objects, built at each call (reports, tests); a run's hash and size come from traceLog. */
  get trace(): TraceEvent[] {
    return this.traceLog.events();
  }

  /** The running task's owner (a client's lane for its tasks). */
  taskOwner(): string {
    if (!this.current) throw new Error('taskOwner outside a scheduler task');
    return this.current.owner;
  }

  /** The running task's own random stream. */
  taskRng(): Rng {
    const task = this.current;
    if (!task) throw new Error('taskRng outside a scheduler task');
    // A fork is a pure function of the root's seed and the label: forking late draws the same stream.
    return (task.rng ??= this.rng.fork(task.rngLabel));
  }

  /** Starts a task at the current virtual time (or after delayMs). Errors other than Crash fail the run. */
  spawn(owner: string, name: string, fn: () => Promise<void>, delayMs = 0): void {
    // A task's random stream is named by owner, name and how many such tasks came before, so
    // removing an unrelated event from a schedule does not shift it (shrinking stays local).
    const key = `${owner}|${name}`;
    const serial = (this.taskSerial.get(key) ?? 0) + 1;
    this.taskSerial.set(key, serial);
    const task: Task = { id: this.nextId++, owner, name, key: owner + name, label: `${owner}:${name}`, state: 'new', stamp: 0, ready: false, wakeAt: this.now + delayMs, killed: false, waitsAfterKill: 0, rng: null, rngLabel: `${key}|${serial}` };
    this.tasks.set(task.id, task);
    const gate = new Promise<void>((resolve, reject) => {
      task.resume = (e) => (e ? reject(e) : resolve());
    });
    task.state = 'runnable';
    this.touch(task);
    void gate
      .then(fn)
      .catch((e: unknown) => {
        if (!(e instanceof Crash) && !this.failure) {
          this.failure = e instanceof Error ? e : new Error(String(e));
          this.failure.message = `task ${owner}:${name} failed: ${this.failure.message}`;
          failedLane.set(this.failure, owner);
        }
      })
      .finally(() => {
        task.state = 'done';
        this.tasks.delete(task.id);
        this.releaseAll(task);
        this.signalParked(task);
      });
  }

  /** Parks the running task until the scheduler resumes it. */
  private park(state: 'runnable' | 'blocked', wakeAt: number): Promise<void> {
    const task = this.current;
    if (!task) throw new Error('park outside a scheduler task');
    if (task.killed) {
      if (++task.waitsAfterKill > maxWaitsAfterKill) return this.abandonSpinning(task);
      return Promise.reject(new Crash(`${task.owner} crashed`));
    }
    task.state = state;
    task.wakeAt = wakeAt;
    this.touch(task);
    const p = new Promise<void>((resolve, reject) => {
      task.resume = (e) => (e ? reject(e) : resolve());
    });
    this.signalParked(task);
    return p;
  }

  /**
   * A killed task that keeps waiting swallows its Crash in a loop: each wait fails at once, so it
   * spins inside one step, no other task ever runs and the event loop never turns (no budget or
   * stall guard can fire; swarm seed 154 ran for hours). The run fails with a finding naming the
   * task; the task is dropped, its wait never settles, and the scheduler goes on to unwind the rest.
   */
  private abandonSpinning(task: Task): Promise<void> {
    this.failure ??= new Error(`task ${task.label} kept waiting after it was killed (${maxWaitsAfterKill} waits, each failing at once with its Crash): a loop swallows the Crash and would spin forever`);
    task.state = 'done';
    this.tasks.delete(task.id);
    this.releaseAll(task);
    this.signalParked(task);
    return new Promise<void>(() => {});
  }

  private signalParked(task: Task): void {
    if (this.current === task) {
      this.current = null;
      const p = this.parked;
      this.parked = null;
      p?.();
    }
  }

  /** A scheduling point: another task may run before this one continues. */
  yield(): Promise<void> {
    return this.park('runnable', this.now);
  }

  /**
   * Sleeps ms of virtual time; with a signal, an abort (a poke, a stop) ends the sleep early by
   * rejecting with the signal's reason, as the production Timer does (the SyncLoop relies on it).
   */
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (!(ms >= 0)) throw new Error(`sleep of ${ms} ms`);
    if (!signal) return this.park('runnable', this.now + ms);
    if (signal.aborted) throw signal.reason;
    const woken = this.future<void>();
    const onAbort = () => woken.reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
    signal.addEventListener('abort', onAbort, { once: true });
    const elapsed = new Error('elapsed');
    try {
      await this.waitFor(woken, ms, () => elapsed);
    } catch (e) {
      if (e !== elapsed) throw signal.aborted ? signal.reason : e;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  future<T>(): Future<T> {
    const f: FutureImpl<T> = {
      settled: false,
      waiters: [],
      resolve: (value) => {
        if (f.settled) return;
        (f as { settled: boolean }).settled = true;
        f.value = value;
        this.wakeWaiters(f.waiters);
      },
      reject: (error) => {
        if (f.settled) return;
        (f as { settled: boolean }).settled = true;
        f.error = error;
        this.wakeWaiters(f.waiters);
      },
    };
    return f;
  }

  private wakeWaiters(waiters: Task[]): void {
    for (const t of waiters.splice(0)) {
      if (t.state === 'blocked') {
        t.state = 'runnable';
        t.wakeAt = this.now;
        this.touch(t);
      }
    }
  }

  /** Waits for a future, or until timeoutMs passes (then throws the timeout error). */
  async waitFor<T>(future: Future<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
    const f = future as FutureImpl<T>;
    const deadline = this.now + timeoutMs;
    while (!f.settled) {
      if (this.now >= deadline) throw onTimeout();
      const task = this.current!;
      f.waiters.push(task);
      // Blocked but with a deadline: runnable again at the deadline if nothing resolves it.
      await this.park('blocked', deadline);
      const i = f.waiters.indexOf(task);
      if (i >= 0) f.waiters.splice(i, 1);
    }
    if (f.error) throw f.error;
    return f.value as T;
  }

  /** A scheduler-visible mutex: a task waiting here is parked, never "running". */
  async lock(name: string): Promise<void> {
    const task = this.current;
    if (!task) throw new Error('lock outside a scheduler task');
    let l = this.locks.get(name);
    if (!l) this.locks.set(name, (l = { holder: null, waiters: [] }));
    if (l.holder === task) throw new Error(`task ${task.owner}:${task.name} re-entered lock ${name} (a nested query inside a transaction would deadlock)`);
    while (l.holder !== null) {
      l.waiters.push(task);
      await this.park('blocked', Number.POSITIVE_INFINITY);
    }
    l.holder = task;
  }

  isLocked(name: string): boolean {
    return (this.locks.get(name)?.holder ?? null) !== null;
  }

  unlock(name: string): void {
    const l = this.locks.get(name);
    if (!l || l.holder !== this.current) throw new Error(`unlock of ${name} by ${this.current?.label ?? 'no running task'}, which does not hold it (held by ${l?.holder?.label ?? 'nobody'})`);
    this.handOver(l);
  }

  private handOver(l: { holder: Task | null; waiters: Task[] }): void {
    l.holder = null;
    const next = l.waiters.shift();
    if (next && next.state === 'blocked') {
      next.state = 'runnable';
      next.wakeAt = this.now;
      this.touch(next);
    }
  }

  private releaseAll(task: Task): void {
    for (const l of this.locks.values()) {
      if (l.holder === task) this.handOver(l);
      const i = l.waiters.indexOf(task);
      if (i >= 0) l.waiters.splice(i, 1);
    }
  }

  /** Kills every task of an owner: each throws Crash at its next resumption. */
  kill(owner: string): number {
    let n = 0;
    for (const t of [...this.tasks.values()].sort((a, b) => a.id - b.id)) {
      if (t.owner !== owner || t.killed) continue;
      t.killed = true;
      n++;
      if (t.state === 'blocked') {
        for (const l of this.locks.values()) {
          const i = l.waiters.indexOf(t);
          if (i >= 0) l.waiters.splice(i, 1);
        }
        t.state = 'runnable';
        t.wakeAt = this.now;
        this.touch(t);
      }
    }
    return n;
  }

  /**
   * Runs until no task is left, or `until` says stop. Throws the first task failure, but only
   * after every other task was killed and has unwound: a task parked inside a real database
   * transaction must roll it back, or the shared PGlite stays inside it for later runs and tests.
   */
  async run(until: () => boolean = () => false): Promise<void> {
    try {
      await this.loop(until);
    } catch (e) {
      if (e instanceof SchedulerLimitError) e.tasks ??= this.describeTasks();
      await this.drain();
      throw e;
    }
  }

  /** Each live task, oldest first: owner:name and what it is doing (for a seed-timeout finding). */
  describeTasks(): string[] {
    return [...this.tasks.values()]
      .sort((a, b) => a.id - b.id)
      .map((t) => `${t.label} ${t === this.current ? 'running' : t.state}${t !== this.current && Number.isFinite(t.wakeAt) && t.wakeAt > this.now ? ` until ${t.wakeAt}` : ''}`);
  }

  /** Kills every task and runs them until all are gone; their own failures no longer count. */
  private async drain(): Promise<void> {
    this.draining = true;
    for (let round = 0; round < 100 && this.tasks.size > 0; round++) {
      for (const owner of new Set([...this.tasks.values()].map((t) => t.owner))) this.kill(owner);
      // Unwind now, not at each task's wake-up time: draining must not move the clock.
      for (const t of this.tasks.values()) {
        if (t.state === 'runnable' && t.wakeAt > this.now) {
          t.wakeAt = this.now;
          this.touch(t);
        }
      }
      this.failure = null;
      try {
        await this.loop(() => false);
      } catch {
        /* a task that fails while unwinding: kill again */
      }
    }
    // The failure was thrown once; later phases (collecting the final state) may run again.
    this.failure = null;
    this.draining = false;
  }

  /** After a change of a task's state or wakeAt: file it as ready, or under a timer. */
  private touch(t: Task): void {
    t.stamp++;
    if (t.state === 'runnable' && t.wakeAt <= this.now) this.makeReady(t);
    else if ((t.state === 'runnable' || t.state === 'blocked') && Number.isFinite(t.wakeAt)) this.pushTimer({ at: t.wakeAt, task: t, stamp: t.stamp });
  }

  private makeReady(t: Task): void {
    if (t.ready) return;
    t.ready = true;
    const r = this.ready;
    let lo = 0;
    let hi = r.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = r[mid]!;
      if (m.key < t.key || (m.key === t.key && m.id < t.id)) lo = mid + 1;
      else hi = mid;
    }
    r.splice(lo, 0, t);
  }

  private live(e: Timer): boolean {
    return e.stamp === e.task.stamp && e.task.state !== 'done' && !e.task.ready;
  }

  /** Timers due by now: runnable tasks become ready; blocked ones wait for the next time jump (or are woken by it). */
  private collectDue(wakeBlocked: boolean): void {
    const h = this.timers;
    while (h.length > 0 && h[0]!.at <= this.now) {
      const e = this.popTimer();
      if (!this.live(e)) continue;
      if (e.task.state === 'runnable') this.makeReady(e.task);
      else if (wakeBlocked) this.wakeDue(e.task);
      else this.dueBlocked.push(e);
    }
  }

  private wakeDue(t: Task): void {
    // As a time jump always did: a blocked task past its deadline is runnable (wakeAt unchanged).
    t.state = 'runnable';
    t.stamp++;
    this.makeReady(t);
  }

  /** No task is ready: jump to the earliest wake-up (blocked tasks with deadlines count). */
  private jump(): void {
    this.dueBlocked = this.dueBlocked.filter((e) => this.live(e));
    let next = Number.POSITIVE_INFINITY;
    for (const e of this.dueBlocked) next = Math.min(next, e.at);
    while (this.timers.length > 0 && !this.live(this.timers[0]!)) this.popTimer();
    if (this.timers.length > 0) next = Math.min(next, this.timers[0]!.at);
    if (next === Number.POSITIVE_INFINITY) {
      const all = [...this.tasks.values()];
      throw new SchedulerLimitError(`deadlock: ${all.length} tasks blocked forever (${all.slice(0, 5).map((t) => `${t.owner}:${t.name}`).join(', ')})`);
    }
    if (next > this.limits.maxVirtualMs) throw new SchedulerLimitError(`virtual time limit ${this.limits.maxVirtualMs} ms reached`);
    this.now = Math.max(this.now, next);
    const due = this.dueBlocked;
    this.dueBlocked = [];
    for (const e of due) if (this.live(e)) this.wakeDue(e.task);
    this.collectDue(true);
  }

  private pushTimer(e: Timer): void {
    const h = this.timers;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >>> 1;
      if (h[p]!.at <= e.at) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  private popTimer(): Timer {
    const h = this.timers;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const c = l + 1 < h.length && h[l + 1]!.at < h[l]!.at ? l + 1 : l;
        if (h[c]!.at >= last.at) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }

  private async loop(until: () => boolean): Promise<void> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (until()) return;
      if (this.tasks.size === 0) return;
      this.collectDue(false);
      if (this.ready.length === 0) this.jump();
      const ready = this.ready;
      // The choice among ready tasks depends only on the moment and who is ready: no draw when
      // only one is, and no shared sequence that one removed event would shift for everyone.
      const index = ready.length > 1 ? this.pickMix.index(this.rng.seed, this.now, ready) : 0;
      const task = ready[index]!;
      if (this.betweenSteps && !this.draining) await this.betweenSteps();
      if (++this.steps > this.limits.maxSteps && !this.draining) throw new SchedulerLimitError(`step limit ${this.limits.maxSteps} reached`);
      // Nothing parks or wakes while no task runs, but take the task by identity all the same.
      ready.splice(ready[index] === task ? index : ready.indexOf(task), 1);
      task.ready = false;
      task.stamp++;
      task.state = 'running';
      this.current = task;
      const parked = new Promise<void>((r) => (this.parked = r));
      const resume = task.resume!;
      task.resume = undefined;
      resume(task.killed ? new Crash(`${task.owner} crashed`) : undefined);
      await parked;
    }
  }
}

/** Labels between two saved mixes of PickMix. */
const PICK_STRIDE = 16;

/**
 * The pick among ready tasks: the stream of rng.fork(`pick|${now}|${labels joined by ','}`),
 * mixed without building that string. Mixing every ready label at every step grew with the
 * square of the clients (1,000 clients: ~150 ready at a time, the simulator's largest own cost),
 * while from one step to the next the ready list mostly keeps its front: the mix is saved every
 * PICK_STRIDE labels for the current moment and resumed from the last save before the first
 * label that changed; an unchanged list at the same moment picks what it picked.
 */
export class PickMix {
  private seed = '';
  private now = Number.NaN;
  /** Labels mixed for `now`, in order. */
  private labels: string[] = [];
  /** saves[k]: the mix of the prefix and the first k * PICK_STRIDE labels. */
  private saves: MixState[] = [];
  private lastIndex = -1;

  index(seed: string, now: number, ready: readonly { label: string }[]): number {
    if (now !== this.now || seed !== this.seed) {
      this.seed = seed;
      this.now = now;
      this.labels = [];
      this.saves = [new KeyMix().add(seed).add('/pick|').add(String(now)).add('|').save()];
      this.lastIndex = -1;
    }
    const labels = this.labels;
    const n = ready.length;
    let same = 0;
    while (same < n && same < labels.length && ready[same]!.label === labels[same]) same++;
    if (same === n && n === labels.length && this.lastIndex >= 0) return this.lastIndex;
    const k = Math.min(Math.floor(same / PICK_STRIDE), this.saves.length - 1);
    this.saves.length = k + 1;
    labels.length = k * PICK_STRIDE;
    const mix = KeyMix.resume(this.saves[k]!);
    for (let i = labels.length; i < n; i++) {
      const label = ready[i]!.label;
      if (i > 0) mix.add(',');
      mix.add(label);
      labels.push(label);
      if ((i + 1) % PICK_STRIDE === 0) this.saves.push(mix.save());
    }
    this.lastIndex = Math.floor(mix.rng().next() * n);
    return this.lastIndex;
  }
}
