/**
 * A seed that does not finish becomes a finding of that seed (`seed-timeout`), never the end of a
 * sweep. Two guards:
 * - a deterministic budget of scheduler steps and virtual time (config.budget, in the replay file,
 *   so a replay stops at the same step with the same trace hash);
 * - a wall-clock stall guard for a task that awaits something outside the scheduler that never
 *   settles (swarm seed 187: no step, no time jump, the run just waits). Steps are counted, not
 *   time, so it only fires when no step happened for stallMs; it decides nothing in the trace
 *   before it fires, and its message carries no wall-clock figure.
 */
import { z } from 'zod';
import type { SimConfig } from './config.ts';
import { violation } from './findings.ts';
import type { Violation } from './checkers/types.ts';
import { SchedulerLimitError, type Scheduler } from './scheduler.ts';

export const budgetSchema = z.object({
  /** Most task resumptions of one seed (chaos, heal and the final collection together). */
  maxSteps: z.number().int().positive(),
  /** Virtual ms one seed may not pass. */
  maxVirtualMs: z.number().int().positive(),
});
export type SeedBudget = z.infer<typeof budgetSchema>;

/**
 * Defaults. Steps grow with the clients: a 200-seed swarm (8 clients, 300 events) took up to 27k
 * statements (roughly as many steps) and 86 s of virtual time; the heal alone may take 120 s. A
 * budget of 100k steps per client (at least 500k) is over 10x that, and ends a livelock of 8
 * clients in minutes (it was 20M steps at every size: hours). A spin inside one step (no step at
 * all) is the scheduler's own finding (a killed task that keeps waiting). The virtual bound
 * leaves room for long heals.
 */
export const stepsPerClient = 100_000;
export const defaultBudget: SeedBudget = { maxSteps: 500_000, maxVirtualMs: 3_600_000 };
/** Wall-clock ms without a single scheduler step before a seed counts as stalled. */
export const defaultStallMs = 300_000;

export const budgetOf = (config: SimConfig): SeedBudget => ({ ...defaultBudget, maxSteps: Math.max(defaultBudget.maxSteps, stepsPerClient * config.clients), ...config.budget });

/** Thrown when no scheduler step happened for the stall bound: the running task awaits something that never settles. */
export class SeedStall extends Error {
  override name = 'SeedStall';
}

/**
 * Runs `p` (a scheduler run) unless no step happens for stallMs of wall clock; then throws SeedStall.
 * One interval per run (not a timer per step), cleared when the run ends.
 */
export async function guardStall<T>(p: Promise<T>, sched: Scheduler, stallMs: number): Promise<T> {
  let interval: ReturnType<typeof setInterval> | undefined;
  const stalled = new Promise<never>((_, reject) => {
    let last = sched.steps;
    let since = performance.now();
    interval = setInterval(() => {
      if (sched.steps !== last) {
        last = sched.steps;
        since = performance.now();
      } else if (performance.now() - since >= stallMs) {
        reject(new SeedStall(`no scheduler step for ${Math.round(stallMs / 1000)} s of wall clock (--seed-stall-seconds): a task awaits something outside the scheduler that never settles`));
      }
    }, Math.max(10, Math.min(1_000, stallMs / 4)));
  });
  try {
    return await Promise.race([p, stalled]);
  } finally {
    clearInterval(interval);
  }
}

/** Whether an error out of a run means the seed did not finish (a budget or the stall guard). */
export function isSeedTimeout(e: unknown): e is Error {
  return e instanceof SeedStall || (e instanceof SchedulerLimitError && /step limit|virtual time limit/.test(e.message));
}

/** The seed-timeout finding: why, and what the run was doing (virtual time, steps, tasks, last events). */
export function seedTimeoutViolation(e: Error, sched: Scheduler): Violation {
  const last = sched.trace.slice(-8).map((x) => `${x.t} ${x.lane} ${x.kind}${x.detail ? ` ${x.detail.slice(0, 80)}` : ''}`);
  const tasks = (e instanceof SchedulerLimitError ? e.tasks : undefined) ?? sched.describeTasks();
  const what = e instanceof SeedStall ? e.message : `${e.message} (config.budget; --seed-max-steps, --seed-max-virtual-seconds)`;
  return violation('seed-timeout', `seed did not finish: ${what}; at ${sched.now} virtual ms after ${sched.steps} steps; tasks (${tasks.length}): ${tasks.slice(0, 12).join(', ')}${tasks.length > 12 ? ', ...' : ''}; last events: ${last.join(' | ')}`, { t: sched.now, lane: 'sim' });
}

/**
 * A test-only hook: LOCKSTEP_TEST_HANG=<seed>:<mode> makes that seed hang (workers inherit the
 * environment). stall: a task awaits a promise that never settles; sleep: a task sleeps in virtual
 * time forever (the virtual-time budget); spin: a task yields forever at one instant (the step budget).
 */
export function testHang(seed: string): 'stall' | 'sleep' | 'spin' | undefined {
  const v = process.env.LOCKSTEP_TEST_HANG;
  if (!v) return undefined;
  const i = v.lastIndexOf(':');
  const mode = v.slice(i + 1);
  if (v.slice(0, i) !== seed) return undefined;
  if (mode !== 'stall' && mode !== 'sleep' && mode !== 'spin') throw new Error(`LOCKSTEP_TEST_HANG=${v}: the mode must be stall, sleep or spin`);
  return mode;
}

export function plantHang(sched: Scheduler, mode: 'stall' | 'sleep' | 'spin'): void {
  sched.spawn('sim', `test-hang ${mode}`, async () => {
    sched.record('sim', 'test-hang', mode);
    if (mode === 'stall') await new Promise<never>(() => {});
    for (;;) await (mode === 'sleep' ? sched.sleep(1_000) : sched.yield());
  }, 1_000);
}
