/**
 * The compaction schedule's loop on a manual Timer: onStopped is told once the loop has ended after
 * stop(), also when stop() came during a compaction (then no sleep is rejected: swarm seed 187's
 * server process waited on that rejection forever). Every wait is bounded in microtask turns, so a
 * missing call fails an assertion instead of hanging the test.
 */
import { describe, expect, it } from 'vitest';
import { ManualTimer } from '../../test/support/http-server.ts';
import type { CompactionResult } from './compaction.ts';
import { compactionSchedule } from './compaction-schedule.ts';

const result = { horizon: 1, droppedRows: 0 } as unknown as CompactionResult;

/** Whether check() holds within `turns` microtask turns (no wall clock, never hangs). */
async function within(check: () => boolean, turns = 200): Promise<boolean> {
  for (let i = 0; i < turns; i++) {
    if (check()) return true;
    await Promise.resolve();
  }
  return check();
}

function deferred(): { promise: Promise<CompactionResult>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<CompactionResult>((res, rej) => {
    resolve = () => res(result);
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('compactionSchedule', () => {
  it('compacts on each tick without an onCompact (an optional call skipped its argument, the compaction)', async () => {
    const timer = new ManualTimer();
    let runs = 0;
    const s = compactionSchedule({ compact: async () => (runs++, result) }, { everyMs: 1000 }, timer);
    timer.fire();
    expect(await within(() => runs === 1 && timer.sleepers === 1), 'a run after the first tick').toBe(true);
    timer.fire();
    expect(await within(() => runs === 2)).toBe(true);
    await s.stop();
  });
});

describe('compactionSchedule onStopped', () => {
  it('is told when stop() comes during a compaction (no sleep is rejected then)', async () => {
    const timer = new ManualTimer();
    const run = deferred();
    let compacting = 0;
    let stopped = 0;
    const s = compactionSchedule({ compact: () => (compacting++, run.promise) }, { everyMs: 1000, onStopped: () => stopped++, onError: () => {} }, timer);
    expect(timer.sleepers).toBe(1);
    timer.fire();
    expect(await within(() => compacting === 1)).toBe(true);
    let stopReturned = false;
    void s.stop().then(() => (stopReturned = true));
    expect(stopped).toBe(0); // still compacting
    run.resolve();
    expect(await within(() => stopped === 1), 'onStopped after a stop during a compaction').toBe(true);
    expect(await within(() => stopReturned)).toBe(true);
    expect(timer.sleepers).toBe(0); // the loop did not go back to sleep
    expect(compacting).toBe(1);
  });

  it('is told when stop() comes during a compaction that then fails, without reporting the failure', async () => {
    const timer = new ManualTimer();
    const run = deferred();
    const errors: unknown[] = [];
    let stopped = 0;
    const s = compactionSchedule({ compact: () => run.promise }, { everyMs: 1000, onStopped: () => stopped++, onError: (e) => errors.push(e) }, timer);
    timer.fire();
    await within(() => false, 5);
    void s.stop();
    run.reject(new Error('aborted by the stop'));
    expect(await within(() => stopped === 1)).toBe(true);
    expect(errors).toEqual([]);
  });

  it('is told once when stop() comes during the sleep, and not before stop()', async () => {
    const timer = new ManualTimer();
    let runs = 0;
    let stopped = 0;
    const s = compactionSchedule({ compact: async () => (runs++, result) }, { everyMs: 1000, onStopped: () => stopped++ }, timer);
    timer.fire();
    expect(await within(() => runs === 1 && timer.sleepers === 1)).toBe(true);
    expect(stopped).toBe(0);
    await s.stop();
    expect(stopped).toBe(1);
    await s.stop(); // a second stop is harmless and tells nobody again
    expect(await within(() => stopped > 1, 20)).toBe(false);
  });
});
