import type { Random, Timer } from '../seams/index.ts';

export interface SyncLoopOptions {
  /** Quiet-time poll interval. */
  intervalMs: number;
  /** Delay after a poke (local write or server poke), to batch bursts. */
  pokeDelayMs: number;
  /** Backoff after errors: base * 2^n, capped, with jitter. */
  backoffBaseMs: number;
  backoffMaxMs: number;
}

const defaults: SyncLoopOptions = { intervalMs: 30_000, pokeDelayMs: 50, backoffBaseMs: 500, backoffMaxMs: 60_000 };

/**
 * Runs `run` now and then: never two at once, sooner after a poke, exponentially later after
 * errors. Time comes only through the Timer seam; stop() aborts the wait and awaits the run.
 */
export class SyncLoop {
  private readonly deps: { timer: Timer; random: Random; run: () => Promise<void>; onError: (e: unknown) => void | Promise<void> };
  private options = defaults;
  private abort: AbortController | null = null;
  private wake: AbortController | null = null;
  private running: Promise<void> | null = null;
  private pokedDuringRun = false;
  private failures = 0;

  constructor(deps: { timer: Timer; random: Random; run: () => Promise<void>; onError: (e: unknown) => void | Promise<void> }) {
    this.deps = deps;
  }

  get active(): boolean {
    return this.abort !== null;
  }

  start(options: Partial<SyncLoopOptions> = {}): void {
    if (this.abort) return;
    this.options = { ...defaults, ...options };
    this.abort = new AbortController();
    this.running = this.loop(this.abort.signal);
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
    await this.running;
    this.running = null;
  }

  private nextDelay(): number {
    if (this.failures === 0) return this.options.intervalMs;
    const exp = Math.min(this.options.backoffMaxMs, this.options.backoffBaseMs * 2 ** Math.min(this.failures - 1, 20));
    return Math.round(exp * (0.5 + this.deps.random.next() / 2));
  }

  private async loop(signal: AbortSignal): Promise<void> {
    let delay = 0;
    while (!signal.aborted) {
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
      try {
        await this.deps.run();
        this.failures = 0;
      } catch (e) {
        this.failures++;
        // Awaited: what the error reports (the state listeners' read) is part of this run, not beside the next.
        await this.deps.onError(e);
      }
      delay = this.pokedDuringRun && this.failures === 0 ? this.options.pokeDelayMs : this.nextDelay();
    }
  }
}
