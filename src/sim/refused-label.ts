import { z } from 'zod';
import { defineMutator, entityIdSchema, entityTypeSchema, type JSONObject, type JSONValue, type MutatorRegistry } from '../protocol/index.ts';
import { keySpace, type ScheduleEvent } from './schedule.ts';
import type { Rng } from './rng.ts';
import type { WideWorkload } from './wide-workload.ts';

/** The server side's careless writes of `tag`: type, id and document. */
const sloppyWrites: readonly ((type: string, id: string) => [string, string, JSONObject])[] = [
  (type) => [type, '', { tag: 'empty id' }],
  (_type, id) => ['', id, { tag: 'empty type' }],
  (type, id) => [type, id + 'x'.repeat(600), { tag: 'long id' }],
  (type, id) => [type, `${id}\u0000`, { tag: 'nul in key' }],
  (type, id) => [type, id, { tag: 'nul \u0000 in document' }],
  (type, id) => [type, id, { tag: JSON.parse("[".repeat(80) + "]".repeat(80)) as JSONValue }],
];

/**
 * An app mutator whose server-side check fails with a message quoting the input raw: `label`
 * marks a document (creating it if need be) with a character given by its code. The client cannot know which labels are
 * reserved and applies it; the server refuses control characters, and its error text quotes the
 * character, so code 0 puts a NUL into the log row's error column. The args passed validation (a
 * number), the effects would too; PostgreSQL refuses the row (SQLSTATE 22P05), and the server's
 * fallback (ServerDatabase.pushOneByOne) must record that one mutation as failed and apply the
 * rest of its push: refused and recorded, never lost. Swarm registers it on both sides only in
 * the seeds that draw wide.refusedLabelRate (coverage-knobs-server.ts).
 */
export const labelMutators: MutatorRegistry = {
  label: defineMutator(z.object({ type: entityTypeSchema, id: entityIdSchema, code: z.number().int().min(0).max(0x10ffff) }), async (tx, a) => {
    if (tx.location === 'server' && a.code < 32) throw new Error(`label: "${String.fromCodePoint(a.code)}" is reserved`);
    tx.put(a.type, a.id, { ...((await tx.get(a.type, a.id)) ?? {}), label: a.code });
  }),
  /**
   * An app mutator whose server side builds its write carelessly from its input (wide.sloppyTagRate):
   * an empty id or type, an id past the key limit, a NUL in the key, a document with a NUL or
   * nested past the depth limit. The server must record it as failed (checkEffects), never store
   * it; the client's own write (a plain tag) is dropped when it learns of the failure.
   */
  tag: defineMutator(z.object({ type: entityTypeSchema, id: entityIdSchema, how: z.number().int().min(0).max(sloppyWrites.length - 1) }), async (tx, a) => {
    if (tx.location !== 'server') return tx.put(a.type, a.id, { ...((await tx.get(a.type, a.id)) ?? {}), tag: a.how });
    const [type, id, data] = sloppyWrites[a.how]!(a.type, a.id);
    tx.put(type, id, data);
  }),
};

/** The mutators a world registers on client and server: an app simulation's, else these when the seed drew them. */
export function simMutators(w: WideWorkload | undefined): MutatorRegistry | undefined {
  return w?.refusedLabelRate || w?.sloppyTagRate ? labelMutators : undefined;
}

/**
 * A label call (only in seeds that drew the knob, so the others draw as before): always a
 * reserved code, most of them NUL, so the server refuses every one (the model checker, which
 * folds only successful entries, never meets it).
 */
export function labelEvent(rng: Rng, t: number, client: number, w: WideWorkload): ScheduleEvent | undefined {
  if (!w.refusedLabelRate || !rng.chance(w.refusedLabelRate)) {
    // A careless tag: drawn only in the seeds that drew wide.sloppyTagRate.
    if (!w.sloppyTagRate || !rng.chance(w.sloppyTagRate)) return undefined;
    return { t, kind: 'mutate', client, name: 'tag', args: { type: 'comment', id: rng.pick(keySpace.comment), how: rng.int(0, sloppyWrites.length - 1) } };
  }
  return { t, kind: 'mutate', client, name: 'label', args: { type: 'comment', id: rng.pick(keySpace.comment), code: rng.chance(0.8) ? 0 : rng.int(1, 31) } };
}
