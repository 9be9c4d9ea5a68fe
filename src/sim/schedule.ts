import { z } from 'zod';
import type { SimConfig } from './config.ts';
import type { Rng } from './rng.ts';
import { faultModules, type AnyFaultModule } from './faults/index.ts';
import { mutateEventSchema, type MutateEvent } from './app/event.ts';
import { labelEvent } from './refused-label.ts';
import { customEvent } from './custom-mutators.ts';
import type { WideWorkload } from './wide-workload.ts';

/**
 * A schedule is the explicit list of everything the chaos phase does, generated up front from the
 * seed. Replay files hold it, so a shrunk schedule replays without the seed's randomness (only
 * per-message network fates still come from the seed, by client and message number).
 */
export const opEventSchema = z.object({
  t: z.number().nonnegative(),
  kind: z.literal('op'),
  client: z.number().int().nonnegative(),
  /** hostile and intrude: the wide workload (wide-ops.ts). */
  op: z.enum(['upsert', 'delete', 'increment', 'hostile', 'intrude']),
  type: z.string(),
  id: z.string(),
  data: z.record(z.string(), z.unknown()).optional(),
  field: z.string().optional(),
  by: z.number().optional(),
  /** An upsert's extra string field of this many bytes (big documents), made at run time. */
  pad: z.number().int().nonnegative().optional(),
  /** A hostile input the engine must refuse, or a misbehaving client's raw push. */
  hostile: z.enum(['surrogate', 'nul', 'proto', 'oversized', 'date', 'undefined', 'bigint']).optional(),
  how: z.enum(['skip', 'stale', 'foreign', 'oversize', 'no-length', 'burst', 'bad-token', 'invalid', 'version', 'gap', 'malformed', 'boundary']).optional(),
  /** how 'boundary': hostile raw requests (faults/hostile-boundary.ts), malformed whole or with invalid mutations. */
  boundary: z.enum(['request', 'mutations']).optional(),
});
export const syncEventSchema = z.object({ t: z.number().nonnegative(), kind: z.literal('sync'), client: z.number().int().nonnegative() });

/** The workload's events (built-in ops, syncs, an app simulation's mutator calls) and one event kind per fault module. */
export const scheduleEventSchema = z.discriminatedUnion('kind', [opEventSchema, syncEventSchema, mutateEventSchema, ...faultModules.map((m) => m.schema)]);
export type FaultEvent = z.infer<(typeof faultModules)[number]['schema']>;
export type ScheduleEvent = z.infer<typeof opEventSchema> | z.infer<typeof syncEventSchema> | MutateEvent | FaultEvent;
export type OpEvent = z.infer<typeof opEventSchema>;

/** The key space is small on purpose, so that conflicts are frequent. Tallies are only ever incremented. */
export const keySpace = {
  comment: ['c0', 'c1', 'c2', 'c3', 'c4'],
  review: ['r0', 'r1', 'r2'],
  tally: ['t0', 't1'],
} as const;

export function workloadEvent(rng: Rng, t: number, client: number, config: SimConfig): ScheduleEvent {
  const what = rng.weighted(config.workload);
  const wide = config.wide ? wideEvent(rng, t, client, config.wide, what, config.simulation !== undefined) : undefined;
  if (wide) return wide;
  if (what === 'sync') return { t, kind: 'sync', client };
  if (what === 'increment') {
    if (rng.chance(0.5)) return { t, kind: 'op', client, op: 'increment', type: 'tally', id: rng.pick(keySpace.tally), field: 'n', by: rng.int(1, 5) };
    return { t, kind: 'op', client, op: 'increment', type: 'review', id: rng.pick(keySpace.review), field: 'votes', by: rng.pick([1, 1, 1, -1]) };
  }
  const type = rng.pick(['comment', 'comment', 'review'] as const);
  const id = rng.pick(keySpace[type]);
  if (what === 'delete') return { t, kind: 'op', client, op: 'delete', type, id };
  // Some upserts carry a field others lack, so that replacing a document differs from merging into it.
  const pinned = rng.chance(0.3);
  const data = type === 'comment'
    ? { body: `note ${rng.int(0, 999)}`, by: `client${client}`, ...(pinned ? { pinned: true } : {}) }
    : { title: `PR ${id}`, status: rng.pick(['open', 'approved', 'changes-requested']), votes: 0 };
  return { t, kind: 'op', client, op: 'upsert', type, id, data };
}

/** `workload` replaces the built-in workload (an app simulation's, see app/workload.ts). */
export function generateSchedule(rng: Rng, config: SimConfig, workload?: (rng: Rng, t: number, client: number, config: SimConfig, step: number) => ScheduleEvent): ScheduleEvent[] {
  const events: ScheduleEvent[] = [];
  let t = 0;
  for (let step = 0; step < config.steps; step++) {
    t += rng.int(1, config.stepMs * 2 - 1);
    const client = rng.int(0, config.clients - 1);
    let fault: ScheduleEvent | undefined;
    for (const m of faultModules) {
      const rate = config.faults[m.rate] ?? 0;
      if (rng.chance(rate)) {
        fault = (m as AnyFaultModule).generate(rng, t, client, config);
        break;
      }
    }
    events.push(fault ?? (workload ? workload(rng, t, client, config, step) : workloadEvent(rng, t, client, config)));
  }
  return events;
}

/**
 * The wide workload's events (only with config.wide, so other schedules draw as before): a
 * misbehaving client's raw push, a hostile input, an increment that fails where the field holds
 * a string, and upserts that are big or write another set of fields.
 */
function wideEvent(rng: Rng, t: number, client: number, w: WideWorkload, what: string, appSimulation = false): ScheduleEvent | undefined {
  // Only in seeds that drew it (so the others draw as before).
  const label = labelEvent(rng, t, client, w);
  if (label) return label;
  // The ledger's mutators are registered only without an app simulation (which brings its own).
  const custom = appSimulation ? undefined : customEvent(rng, t, client, w);
  if (custom) return custom;
  if (w.boundaryRate && rng.chance(w.boundaryRate)) return { t, kind: 'op', client, op: 'intrude', type: 'comment', id: rng.pick(keySpace.comment), how: 'boundary', boundary: rng.pick(['request', 'mutations'] as const) };
  if (rng.chance(w.intruderRate)) return { t, kind: 'op', client, op: 'intrude', type: 'comment', id: rng.pick(keySpace.comment), how: rng.pick(['skip', 'stale', 'foreign', 'oversize', 'no-length', 'burst', 'bad-token', 'invalid', 'version', 'gap', 'malformed'] as const) };
  if (w.mistakeRate && rng.chance(w.mistakeRate)) return { t, kind: 'op', client, op: 'hostile', type: 'comment', id: rng.pick(keySpace.comment), hostile: rng.pick(['date', 'undefined', 'bigint'] as const) };
  if (rng.chance(w.hostileRate)) return { t, kind: 'op', client, op: 'hostile', type: 'comment', id: rng.pick(keySpace.comment), hostile: rng.pick(['surrogate', 'nul', 'proto', 'oversized'] as const) };
  // Comment bodies are strings: the increment fails on the server (or is refused locally) where the comment exists.
  if (rng.chance(w.failingRate)) return { t, kind: 'op', client, op: 'increment', type: 'comment', id: rng.pick(keySpace.comment), field: 'body', by: 1 };
  if (what !== 'upsert') return undefined;
  const big = rng.chance(w.bigDocRate);
  const reshape = rng.chance(w.reshapeRate);
  if (!big && !reshape) return undefined;
  const id = rng.pick(keySpace.comment);
  const fields = ['body', 'by', 'pinned', 'tags', 'edited', 'lang'].filter(() => rng.chance(0.5));
  const values: Record<string, unknown> = { body: `note ${rng.int(0, 999)}`, by: `client${client}`, pinned: rng.chance(0.5), tags: ['a', 'b'].slice(0, rng.int(0, 2)), edited: rng.int(0, 9), lang: rng.pick(['en', 'de', 'fr']) };
  const data = reshape ? Object.fromEntries(fields.map((f) => [f, values[f]])) : { body: values.body, by: values.by };
  return { t, kind: 'op', client, op: 'upsert', type: 'comment', id, data, ...(big ? { pad: rng.int(10_000, 250_000) } : {}) };
}
