/**
 * The independent oracle's models: each built-in mutator written from its specification, as a
 * pure function of the state before it. Nothing here calls production code (not even its key
 * format), so a mutator bug that client and server share cannot hide behind agreement.
 */

export type Doc = Record<string, unknown>;
export type ModelState = ReadonlyMap<string, Doc>;
/** What one mutation does: the documents it writes (null: deletes), or why it fails. */
export type ModelOutcome = { writes: Map<string, Doc | null> } | { error: string };
export type MutatorModel = (state: ModelState, args: unknown) => ModelOutcome;

const key = (type: unknown, id: unknown) => `${String(type)}/${String(id)}`;
const isDoc = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);

export const builtinModels: Readonly<Record<string, MutatorModel>> = {
  /** Creates or replaces the whole document: fields not in `data` are gone afterwards. */
  upsert(_state, a) {
    const { type, id, data } = a as { type: string; id: string; data: unknown };
    if (!isDoc(data)) return { error: 'upsert: data is not an object' };
    return { writes: new Map([[key(type, id), { ...data }]]) };
  },
  /** Removes the document (a missing one stays missing). */
  delete(_state, a) {
    const { type, id } = a as { type: string; id: string };
    return { writes: new Map([[key(type, id), null]]) };
  },
  /** Adds `by` to a numeric field, keeping the other fields; entity and field start at 0; a non-number fails. */
  increment(state, a) {
    const { type, id, field, by } = a as { type: string; id: string; field: string; by: number };
    const k = key(type, id);
    const doc = state.get(k) ?? {};
    const prev = field in doc ? doc[field] : 0;
    if (typeof prev !== 'number') return { error: `increment: ${k}.${field} is not a number` };
    return { writes: new Map([[k, { ...doc, [field]: prev + by }]]) };
  },
};

/** JSON with sorted keys: the database normalises key order, the model does not. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isDoc(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v ?? null);
}
