import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../protocol/index.ts';
import { SyncLoop } from './sync-loop.ts';
import { maxTimerMs } from '../seams/index.ts';

/** Runs the loop on a timer that records each wait and returns at once, until `waits` waits were asked for. */
async function waitsOf(run: () => Promise<void>, progress: (() => number) | undefined, waits: number): Promise<number[]> {
  const delays: number[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const loop: SyncLoop = new SyncLoop({
    timer: {
      sleep: (ms, signal) => {
        // stop() waiting for the loop to end: that wait ends with the loop, it is no delay of it.
        if (ms === maxTimerMs) return new Promise<void>((_, reject) => signal!.addEventListener('abort', () => reject(signal!.reason)));
        delays.push(ms);
        if (delays.length < waits) return Promise.resolve();
        void loop.stop().then(done);
        return Promise.reject(new Error('stopped'));
      },
    },
    random: { next: () => 1 }, // no jitter: the delays are the backoff itself
    run,
    onError: () => {},
    ...(progress ? { progress } : {}),
  });
  loop.start({ intervalMs: 30_000, backoffBaseMs: 500, backoffMaxMs: 60_000 });
  await finished;
  return delays;
}

describe('SyncLoop backoff', () => {
  it('backs off exponentially while runs fail without progress', async () => {
    const delays = await waitsOf(async () => Promise.reject(new Error('429')), () => 0, 5);
    expect(delays).toEqual([500, 1_000, 2_000, 4_000, 8_000]);
  });

  // A server push budget acknowledges a few mutations per push, and a rate limit then refuses the
  // next request: the run fails, but the backlog shrank. Growing the backoff then would slow the
  // drain to a trickle (60 s between runs); the loop must keep retrying at the base delay.
  it('keeps the base delay after failed runs that made progress (acknowledged work)', async () => {
    let acked = 0;
    const run = async () => {
      acked++;
      throw new Error('429 after a push the server acknowledged');
    };
    const delays = await waitsOf(run, () => acked, 5);
    expect(delays).toEqual([500, 500, 500, 500, 500]);
  });

  it('grows again once a failing run makes no progress', async () => {
    let acked = 0;
    let runs = 0;
    const run = async () => {
      if (++runs <= 2) acked++;
      throw new Error('down');
    };
    const delays = await waitsOf(run, () => acked, 5);
    expect(delays).toEqual([500, 500, 1_000, 2_000, 4_000]);
  });
});

/** A 429 (or 503) whose answer carried Retry-After: `seconds`. */
function tooManyRequests(seconds: number): ProtocolError {
  const e = new ProtocolError(429, { error: 'BadRequest', message: 'too many requests' });
  e.retryAfterMs = seconds * 1000;
  return e;
}

describe('SyncLoop Retry-After', () => {
  it('waits at least the Retry-After the server gave, then the rest of the backoff', async () => {
    const delays = await waitsOf(async () => Promise.reject(tooManyRequests(5)), () => 0, 7);
    // Backoff 500, 1000, 2000, 4000 are below the 5 s asked for; 8000 is 5000 held plus 3000.
    expect(delays).toEqual([5_000, 5_000, 5_000, 5_000, 5_000, 3_000, 5_000]);
  });

  it('caps the Retry-After at maxRetryAfterMs (default 60 s)', async () => {
    const delays = await waitsOf(async () => Promise.reject(tooManyRequests(3_600)), () => 0, 2);
    expect(delays).toEqual([60_000, 60_000]);
  });

  it('a poke during the Retry-After does not end it early; one after it runs at once', async () => {
    const sleeps: { ms: number; signal: AbortSignal | undefined; wake: () => void }[] = [];
    let runs = 0;
    let settle!: () => void;
    let next = new Promise<void>((r) => (settle = r));
    const loop = new SyncLoop({
      timer: {
        sleep: (ms, signal) =>
          new Promise<void>((resolve, reject) => {
            signal?.addEventListener('abort', () => reject(new Error('aborted')));
            sleeps.push({ ms, signal, wake: resolve });
            settle();
          }),
      },
      random: { next: () => 1 },
      run: async () => {
        runs++;
        if (runs === 1) throw tooManyRequests(5);
      },
      onError: () => {},
    });
    const parked = async () => {
      await next;
      next = new Promise<void>((r) => (settle = r));
    };
    loop.start({ intervalMs: 30_000, backoffBaseMs: 500 });
    await parked();
    expect(sleeps.map((s) => s.ms)).toEqual([5_000]);
    loop.poke(); // a local write while the server asked us to wait
    await Promise.resolve();
    expect(sleeps[0]!.signal!.aborted).toBe(false);
    expect(runs).toBe(1);
    sleeps[0]!.wake(); // the hold ends: the poke made during it runs now, not after the interval
    await parked();
    expect(runs).toBe(2);
    expect(sleeps.map((s) => s.ms)).toEqual([5_000, 30_000]);
    await loop.stop();
  });

  it('stop() waits for the run in progress on the Timer seam (a simulator task awaiting the loop\'s plain promise never parked: swarm seed 154)', async () => {
    const waits: { ms: number; signal?: AbortSignal }[] = [];
    const runGate = Promise.withResolvers<void>();
    let runStarted!: () => void;
    const started = new Promise<void>((r) => (runStarted = r));
    const loop = new SyncLoop({
      timer: {
        sleep: (ms, signal) => {
          waits.push({ ms, signal });
          return new Promise<void>((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason)));
        },
      },
      random: { next: () => 1 },
      run: async () => {
        runStarted();
        await runGate.promise;
      },
      onError: () => {},
    });
    loop.start({ intervalMs: 30_000 });
    await started;
    let stopped = false;
    const stopping = loop.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 5));
    // The run is still in progress: stop() waits for it, and waits on the timer, with a signal.
    expect(stopped).toBe(false);
    expect(waits.map((w) => w.ms)).toEqual([maxTimerMs]);
    expect(waits[0]!.signal!.aborted).toBe(false);
    runGate.resolve();
    await stopping;
    expect(waits[0]!.signal!.aborted).toBe(true);
    expect(loop.active).toBe(false);
  });

  it('refuses a bad option with a clear error naming it', () => {
    const loop = new SyncLoop({ timer: { sleep: async () => {} }, random: { next: () => 0 }, run: async () => {}, onError: () => {} });
    expect(() => loop.start({ maxRetryAfterMs: -1 })).toThrow(/invalid sync loop options: maxRetryAfterMs: .*>=0/);
    expect(() => loop.start({ intervalMs: Number.NaN })).toThrow(/intervalMs/);
  });
});
