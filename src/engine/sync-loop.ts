import { z } from 'zod';
import { retryAfterOf } from '../protocol/index.ts';
import { untilAborted, type Random, type Timer } from '../seams/index.ts';

export interface SyncLoopOptions {
  /** Quiet-time poll interval. */
  intervalMs: number;
  /** Delay after a poke (local write or server poke), to batch bursts. */
  pokeDelayMs: number;
  /** Backoff after errors: base * 2^n, capped, with jitter. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /**
   * Most of a server's Retry-After (429, 503) the loop honours: the next run waits at least
   * min(Retry-After, this), and pokes do not cut that part short.
   */
  maxRetryAfterMs: number;
}

const defaults: SyncLoopOptions = { intervalMs: 30_000, pokeDelayMs: 50, backoffBaseMs: 500, backoffMaxMs: 60_000, maxRetryAfterMs: 60_000 };
const ms = z.number().finite().nonnegative();
const optionsSchema = z.object({ intervalMs: ms, pokeDelayMs: ms, backoffBaseMs: ms, backoffMaxMs: ms, maxRetryAfterMs: ms });

export interface SyncLoopDeps {
  timer: Timer;
  random: Random;
  run: () => Promise<void>;
  onError: (e: unknown) => void | Promise<void>;
  /**
   * A count of work the server did for this client, that only grows (the engine counts pushes it
   * acknowledged and pull pages that moved the cookie). A failed run during which it grew made
   * progress (say, a 429 after two pushes went through): the backoff restarts at its
   * base instead of growing, so a backlog that a server push budget and a rate limit cut into
   * parts keeps draining at the rate the server allows instead of waiting minutes between runs.
   */
  progress?: () => number;
}

/**
 * Runs `run` now and then: never two at once, sooner after a poke, exponentially later after
 * errors (unless the failed run made progress), and never before the Retry-After the server gave
 * with the error (capped at maxRetryAfterMs). Time comes only through the Timer seam; stop()
 * aborts the wait and awaits the run.
 */
export class SyncLoop {
  private readonly deps: SyncLoopDeps;
  private options = defaults;
  private abort: AbortController | null = null;
  private wake: AbortController | null = null;
  private running: Promise<void> | null = null;
  /** Aborted once the loop's promise has settled: what stop() waits for. */
  private ended: AbortController | null = null;
  private pokedDuringRun = false;
  private failures = 0;

  constructor(deps: SyncLoopDeps) {
    this.deps = deps;
  }

  get active(): boolean {
    return this.abort !== null;
  }

  start(options: Partial<SyncLoopOptions> = {}): void {
    if (this.abort) return;
    const r = optionsSchema.safeParse({ ...defaults, ...options });
    if (!r.success) throw new Error(`invalid sync loop options: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    this.options = r.data;
    this.abort = new AbortController();
    const ended = new AbortController();
    this.ended = ended;
    this.running = this.loop(this.abort.signal);
    this.running.then(() => ended.abort('ended'), () => ended.abort('ended'));
  }

  poke(): void {
    if (!this.abort) return;
    if (this.wake) this.wake.abort('poke');
    else this.pokedDuringRun = true;
  }

  async stop(): Promise<void> {
    if (!this.abort) return;
    this.abort.abort('stopped');
    this.wake?.abort('stopped');
    this.abort = null;
    // Waits for the run in progress on the Timer seam, not on the loop's promise: a simulator's
    // task awaiting a plain promise never parks, and its scheduler stalls (swarm seed 154).
    if (this.ended) await untilAborted(this.deps.timer, this.ended.signal);
    this.running = null;
    this.ended = null;
  }

  private nextDelay(): number {
    if (this.failures === 0) return this.options.intervalMs;
    const exp = Math.min(this.options.backoffMaxMs, this.options.backoffBaseMs * 2 ** Math.min(this.failures - 1, 20));
    return Math.round(exp * (0.5 + this.deps.random.next() / 2));
  }

  private async loop(signal: AbortSignal): Promise<void> {
    let delay = 0;
    // The part of the delay the server asked for (Retry-After): a poke waits it out too, else the
    // next local write would send at once into the same 429.
    let hold = 0;
    while (!signal.aborted) {
      if (hold > 0) {
        this.pokedDuringRun = false; // a poke during the failed run does not shorten a backoff
        try {
          await this.deps.timer.sleep(hold, signal);
        } catch {
          return;
        }
        // A poke during the hold runs now (its batching delay has passed); else the rest of the backoff.
        delay = this.pokedDuringRun ? 0 : delay - hold;
      }
      if (delay > 0) {
        this.wake = new AbortController();
        const waitSignal = AbortSignal.any([signal, this.wake.signal]);
        let poked = false;
        try {
          await this.deps.timer.sleep(delay, waitSignal);
        } catch {
          poked = !signal.aborted;
        }
        this.wake = null;
        if (signal.aborted) return;
        // A poke (local write, server poke, back online) ends any wait early, after a short batching delay.
        if (poked) {
          try {
            await this.deps.timer.sleep(this.options.pokeDelayMs, signal);
          } catch {
            return;
          }
        }
      }
      this.pokedDuringRun = false;
      const before = this.deps.progress?.();
      hold = 0;
      try {
        await this.deps.run();
        this.failures = 0;
      } catch (e) {
        this.failures = before !== undefined && this.deps.progress!() > before ? 1 : this.failures + 1;
        hold = Math.min(retryAfterOf(e) ?? 0, this.options.maxRetryAfterMs);
        // Awaited: what the error reports (the state listeners' read) is part of this run, not beside the next.
        await this.deps.onError(e);
      }
      delay = this.pokedDuringRun && this.failures === 0 ? this.options.pokeDelayMs : Math.max(this.nextDelay(), hold);
    }
  }
}
