import { z } from 'zod';
import type { Timer } from '../seams/index.ts';
import type { CompactionResult } from './compaction.ts';

export interface CompactionSchedule {
  /** Compact this often (milliseconds). */
  everyMs: number;
  /** Told about each failed run; the schedule keeps going (default: console.error). */
  onError?: (e: unknown) => void;
  /** Told about each run (for tests and metrics). */
  onCompact?: (r: CompactionResult) => void;
  /** Told once the loop has ended after stop(), whether it was asleep or compacting when asked. */
  onStopped?: () => void;
}

const scheduleSchema = z.object({ everyMs: z.number().int().positive() });

/** The schedule's settings, validated (a clear error on a bad value). */
export function checkSchedule(options: CompactionSchedule): { everyMs: number } {
  const parsed = scheduleSchema.safeParse({ everyMs: options.everyMs });
  if (!parsed.success) throw new Error(`invalid compaction schedule: everyMs must be a positive integer (milliseconds), got ${String(options.everyMs)}`);
  return parsed.data;
}

/**
 * Runs compact() every everyMs on the Timer seam until stopped. Runs never overlap: the next
 * sleep starts when a run ends. A failing run is reported and the next one is tried.
 */
export function compactionSchedule(target: { compact(): Promise<CompactionResult> }, options: CompactionSchedule, timer: Timer): { stop(): Promise<void> } {
  const parsed = { data: checkSchedule(options) };
  const abort = new AbortController();
  const onError = options.onError ?? ((e: unknown) => console.error(`lockstep: compaction failed: ${(e as Error)?.message ?? e}`));
  const loop = (async () => {
    while (!abort.signal.aborted) {
      try {
        await timer.sleep(parsed.data.everyMs, abort.signal);
      } catch {
        return; // stopped
      }
      try {
        // Not onCompact?.(await compact()): an optional call skips its arguments, so without an
        // onCompact the schedule never compacted.
        const r = await target.compact();
        options.onCompact?.(r);
      } catch (e) {
        if (!abort.signal.aborted) onError(e);
      }
    }
  })().finally(() => options.onStopped?.());
  return {
    async stop() {
      abort.abort();
      await loop;
    },
  };
}
