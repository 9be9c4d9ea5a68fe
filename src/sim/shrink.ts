import type { SimConfig } from './config.ts';
import { runSimulation, type RunResult } from './run.ts';
import type { ScheduleEvent } from './schedule.ts';
import type { Stores } from './world.ts';
import { faultModuleFor } from './faults/index.ts';
import { messageFaults } from './faults/network-faults.ts';

export interface ShrinkStep {
  what: string;
  events: number;
  clients: number;
  elapsedMs: number;
}

export interface ShrinkOutcome {
  result: RunResult;
  steps: ShrinkStep[];
  trials: number;
  elapsedMs: number;
  /** False when the budget ran out before a fixed point. */
  complete: boolean;
}

/**
 * Keeps only the client slots the schedule uses. Slots keep their names and random streams, so
 * the remaining clients behave as before (only the idle ones' heal traffic goes).
 */
function compactClients(config: SimConfig, schedule: ScheduleEvent[]): { config: SimConfig; schedule: ScheduleEvent[] } {
  const used = [...new Set(schedule.flatMap((e) => ('client' in e ? [e.client] : [])))].sort((a, b) => a - b);
  const slots = used.length ? used : [(config.clientSlots ?? [0])[0]!];
  return { config: { ...config, clients: slots.length, clientSlots: slots }, schedule };
}

/**
 * Minimises a failing schedule while the same kind of violation (the first one's checker) still
 * occurs: drop the events after the violation, then delta-debug away chunks of events (halves
 * down to single events), drop unused clients, and zero network fault rates. Every trial is a
 * full deterministic run, so the result replays exactly.
 */
export async function shrink(
  failing: RunResult,
  stores: Stores,
  options: { budgetMs?: number; onStep?: (s: ShrinkStep) => void } = {},
): Promise<ShrinkOutcome> {
  const t0 = performance.now();
  const budgetMs = options.budgetMs ?? 120_000;
  const kind = failing.violations[0]?.checker;
  if (!kind) throw new Error('shrink needs a failing run');
  let best = failing;
  let trials = 0;
  const steps: ShrinkStep[] = [];
  const outOfTime = () => performance.now() - t0 > budgetMs;
  const note = (what: string) => {
    const s = { what, events: best.schedule.length, clients: best.config.clients, elapsedMs: Math.round(performance.now() - t0) };
    steps.push(s);
    options.onStep?.(s);
  };

  /** Runs a candidate; keeps it if the same kind of violation occurs. Dropping idle clients changes the heal phase's interleavings, so it is a step of its own. */
  const attempt = async (config: SimConfig, schedule: ScheduleEvent[], compact = false): Promise<boolean> => {
    const c = compact ? compactClients(config, schedule) : { config, schedule };
    trials++;
    const r = await runSimulation(c.config, stores, { schedule: c.schedule });
    if (r.violations.some((v) => v.checker === kind)) {
      best = r;
      return true;
    }
    return false;
  };
  const without = (keep: (e: ScheduleEvent) => boolean) => best.schedule.filter(keep);

  note('start');
  // 1. Nothing after the moment of detection matters to a violation found while running.
  const at = failing.violations[0]!.t;
  if (at !== undefined && failing.schedule.some((e) => e.t > at)) {
    if (await attempt(best.config, without((e) => e.t <= at))) note('cut after the violation');
  }
  // 2. Big cuts first: everything one client does, then every event of one kind.
  for (let client = 0; client < best.config.clients && !outOfTime(); client++) {
    const candidate = without((e) => !('client' in e) || e.client !== client);
    if (candidate.length < best.schedule.length && candidate.length > 0 && (await attempt(best.config, candidate))) note(`removed client c${client}'s events`);
  }
  const kindOf = (e: ScheduleEvent) => (e.kind === 'op' ? `${e.op}` : e.kind);
  for (const k of [...new Set(best.schedule.map(kindOf))].sort()) {
    if (outOfTime()) break;
    const candidate = without((e) => kindOf(e) !== k);
    if (candidate.length > 0 && (await attempt(best.config, candidate))) note(`removed every ${k}`);
  }
  if (!outOfTime() && compactClients(best.config, best.schedule).config.clients < best.config.clients && (await attempt(best.config, best.schedule, true))) note('dropped unused clients');

  // 3. Delta debugging: remove chunks, from halves down to single events, until nothing goes.
  let complete = false;
  for (let chunk = Math.max(1, Math.floor(best.schedule.length / 2)); !outOfTime(); ) {
    let removed = false;
    for (let start = 0; start < best.schedule.length && !outOfTime(); ) {
      const candidate = [...best.schedule.slice(0, start), ...best.schedule.slice(start + chunk)];
      if (candidate.length > 0 && (await attempt(best.config, candidate))) {
        removed = true;
        note(`removed ${chunk} event${chunk > 1 ? 's' : ''}`);
      } else start += chunk;
    }
    if (chunk === 1 && !removed) {
      complete = true;
      break;
    }
    if (!removed) chunk = Math.max(1, Math.floor(chunk / 2));
  }
  if (!outOfTime() && compactClients(best.config, best.schedule).config.clients < best.config.clients && (await attempt(best.config, best.schedule, true))) note('dropped unused clients');

  // 4. Smaller values: network faults that the schedule does not need.
  for (const { rate } of messageFaults) {
    if (outOfTime() || best.config.network[rate] === 0) continue;
    if (await attempt({ ...best.config, network: { ...best.config.network, [rate]: 0 } }, best.schedule)) note(`${rate} 0`);
  }
  // 4b. Smaller faults: each fault module's knob (shorter outages, smaller skews), halving while it holds.
  for (let i = 0; i < best.schedule.length && !outOfTime(); i++) {
    const m = faultModuleFor(best.schedule[i]!.kind);
    for (let e = m?.smaller?.(best.schedule[i]!); e && !outOfTime(); e = m!.smaller!(e)) {
      const candidate = best.schedule.map((x, j) => (j === i ? e! : x));
      if (!(await attempt(best.config, candidate))) break;
      note(`smaller ${e.kind}`);
    }
  }
  // 5. Smaller times: close the gap before each event (everything after moves earlier with it),
  //    so that what remains overlaps more and runs shorter.
  for (let i = 1; i < best.schedule.length && !outOfTime(); i++) {
    const gap = best.schedule[i]!.t - best.schedule[i - 1]!.t;
    if (gap <= 0) continue;
    const candidate = best.schedule.map((e, j) => (j >= i ? { ...e, t: e.t - gap } : e));
    if (await attempt(best.config, candidate)) note(`closed a ${gap} ms gap`);
  }

  // 6. Races need luck to show: once no single event can go, try each removal again under up to
  //    ten other seeds (another draw of latencies and interleavings). The replay file records the seed.
  const root = failing.config.seed;
  for (let progress = true; progress && !outOfTime(); ) {
    progress = false;
    for (let i = 0; i < best.schedule.length && !outOfTime() && best.schedule.length > 1; i++) {
      const candidate = [...best.schedule.slice(0, i), ...best.schedule.slice(i + 1)];
      // The same seed first (an earlier removal may have made this one possible), then others.
      if (await attempt(best.config, candidate)) {
        note('removed 1 event');
        progress = true;
        break;
      }
      for (let hop = 1; hop <= 10 && !outOfTime(); hop++) {
        if (await attempt({ ...best.config, seed: `${root}~${hop}` }, candidate)) {
          note(`removed 1 event (seed ${root}~${hop})`);
          progress = true;
          break;
        }
      }
      if (progress) break;
    }
  }
  complete = complete && !outOfTime();

  return { result: best, steps, trials, elapsedMs: Math.round(performance.now() - t0), complete };
}
