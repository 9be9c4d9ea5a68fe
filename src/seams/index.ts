/**
 * Seams through which time, randomness and I/O enter the engine and the server. The production
 * implementations below are the only code in src/engine and src/server allowed to touch
 * Date.now, crypto or timers; the simulator supplies seeded, virtual ones.
 */
import type { PullRequest, PullResponseOK, PushRequest, PushResponseOK } from '../protocol/index.ts';

export interface Clock {
  /** Milliseconds since the epoch (virtual in the simulator). */
  now(): number;
}

export interface Ids {
  /** A fresh unique id, e.g. for a clientID or clientGroupID. */
  newId(prefix: string): string;
}

export interface Timer {
  /** Resolves after ms; rejects with the signal's reason if aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The longest wait a Timer takes (setTimeout's bound): a wait for an event never times out first. */
export const maxTimerMs = 2 ** 31 - 1;

/**
 * Waits on the Timer seam until `signal` aborts (so a simulator's scheduler sees the wait). Only
 * that end is swallowed: any other failure of the wait (a simulated crash of the waiting task)
 * propagates. Swallowing every failure made a crashed task that waits in a loop spin forever
 * (swarm seed 154).
 */
export async function untilAborted(timer: Timer, signal: AbortSignal): Promise<void> {
  try {
    await timer.sleep(maxTimerMs, signal);
  } catch (e) {
    if (!signal.aborted) throw e;
  }
}

export interface Random {
  /** Uniform in [0, 1). Used for backoff jitter. */
  next(): number;
}

/** How a client talks to a server. Failures throw TransportError (retryable) or ProtocolError. */
export interface Transport {
  push(req: PushRequest): Promise<PushResponseOK>;
  pull(req: PullRequest): Promise<PullResponseOK>;
  /**
   * Optional: sends a pull now whose answer is awaited later, or never (the engine asks for the
   * next page while it applies one). response() is called at most once; an answer never asked
   * for must not surface as an unhandled rejection. Without it, pages are asked for one at a time.
   */
  pullAhead?(req: PullRequest): { response(): Promise<PullResponseOK> };
}

export const systemClock: Clock = { now: () => Date.now() };

export const cryptoIds: Ids = {
  newId: (prefix) => `${prefix}-${globalThis.crypto.randomUUID()}`,
};

export const mathRandom: Random = { next: () => Math.random() };

export const realTimer: Timer = {
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};
