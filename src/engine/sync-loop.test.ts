import { describe, expect, it } from 'vitest';
import { SyncLoop } from './sync-loop.ts';

/** Runs the loop on a timer that records each wait and returns at once, until `waits` waits were asked for. */
async function waitsOf(run: () => Promise<void>, progress: (() => number) | undefined, waits: number): Promise<number[]> {
  const delays: number[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const loop: SyncLoop = new SyncLoop({
    timer: {
      sleep: (ms) => {
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
