import { z } from 'zod';
import { entityIdSchema, entityKey, entityTypeSchema, type EntityData } from './entity.ts';
import { jsonObjectSchema } from './json.ts';
import { valueProblem, type Limits } from './limits.ts';
import type { EffectOp } from './patch.ts';

/**
 * What a mutator sees. The same mutator code runs speculatively on the client and
 * authoritatively on the server (Replicache's model): only the reader underneath differs.
 */
export interface MutatorTx {
  readonly clientID: string;
  readonly mutationID: number;
  /** 'client' while speculating, 'server' when authoritative. Mutators rarely need it. */
  readonly location: 'client' | 'server';
  get(type: string, id: string): Promise<EntityData | undefined>;
  put(type: string, id: string, data: EntityData): void;
  del(type: string, id: string): void;
}

export interface MutatorDef<A = unknown> {
  args: z.ZodType<A>;
  run(tx: MutatorTx, args: A): Promise<void>;
}

export type MutatorRegistry = Readonly<Record<string, MutatorDef<any>>>;

export function defineMutator<A>(args: z.ZodType<A>, run: (tx: MutatorTx, args: A) => Promise<void>): MutatorDef<A> {
  return { args, run };
}

export const upsertArgsSchema = z.object({ type: entityTypeSchema, id: entityIdSchema, data: jsonObjectSchema });
export const deleteArgsSchema = z.object({ type: entityTypeSchema, id: entityIdSchema });
export const incrementArgsSchema = z.object({
  type: entityTypeSchema,
  id: entityIdSchema,
  field: z.string().min(1).max(256),
  by: z.number().finite(),
});
export type UpsertArgs = z.infer<typeof upsertArgsSchema>;
export type DeleteArgs = z.infer<typeof deleteArgsSchema>;
export type IncrementArgs = z.infer<typeof incrementArgsSchema>;

export const builtinMutators = {
  /** Whole-document write; creates or replaces, and re-creates after a delete. */
  upsert: defineMutator(upsertArgsSchema, async (tx, a) => {
    tx.put(a.type, a.id, a.data);
  }),
  /** Tombstone. Deleting a missing entity is a no-op, so a replayed delete is harmless. */
  delete: defineMutator(deleteArgsSchema, async (tx, a) => {
    tx.del(a.type, a.id);
  }),
  /** Adds `by` to a numeric field, creating entity or field at 0. Re-run on the server, concurrent increments all count. */
  increment: defineMutator(incrementArgsSchema, async (tx, a) => {
    const current = (await tx.get(a.type, a.id)) ?? {};
    const prev = current[a.field] ?? 0;
    if (typeof prev !== 'number') throw new Error(`increment: ${entityKey(a.type, a.id)}.${a.field} is not a number`);
    const next = prev + a.by;
    // JSON has no Infinity: stored, it would silently become null.
    if (!Number.isFinite(next)) throw new Error(`increment: ${entityKey(a.type, a.id)}.${a.field} + ${a.by} is not a finite number`);
    tx.put(a.type, a.id, { ...current, [a.field]: next });
  }),
} satisfies MutatorRegistry;

export type BuiltinMutatorName = keyof typeof builtinMutators;

export function createRegistry(extra: MutatorRegistry = {}): MutatorRegistry {
  for (const name of Object.keys(extra)) {
    if (name in builtinMutators) throw new Error(`mutator "${name}" would shadow a built-in mutator`);
  }
  return { ...builtinMutators, ...extra };
}

export interface MutatorOutcome {
  /** Writes in the order they were last made, one per key. Empty when the mutator failed. */
  effects: EffectOp[];
  error?: string;
}

/**
 * Runs a mutator against a reader with its writes buffered, so a mutator that throws half-way
 * writes nothing at all (no savepoints needed) and the buffered writes are exactly its effects.
 * With `limits`, every document written must pass valueProblem, or the mutation fails.
 */
export async function runMutator(
  registry: MutatorRegistry,
  m: { name: string; args: unknown; clientID: string; mutationID: number },
  location: 'client' | 'server',
  read: (key: string) => Promise<EntityData | undefined>,
  options: { limits?: Pick<Limits, 'maxDocumentBytes' | 'maxDepth'> } = {},
): Promise<MutatorOutcome> {
  const def = registry[m.name];
  if (!def) return { effects: [], error: `unknown mutator "${m.name}"` };
  const parsed = def.args.safeParse(m.args);
  if (!parsed.success) {
    return { effects: [], error: `invalid args for "${m.name}": ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}` };
  }
  const overlay = new Map<string, EntityData | null>();
  // A failing read (the database, a crash) is not the mutator's error: it must abort the whole
  // transaction, never be logged as a failed mutation that advances the last mutation id.
  let readFailure: { error: unknown } | undefined;
  const tx: MutatorTx = {
    clientID: m.clientID,
    mutationID: m.mutationID,
    location,
    async get(type, id) {
      const key = entityKey(type, id);
      if (overlay.has(key)) return overlay.get(key) ?? undefined;
      try {
        return await read(key);
      } catch (error) {
        readFailure ??= { error };
        throw error;
      }
    },
    put(type, id, data) {
      const key = entityKey(type, id);
      overlay.delete(key); // re-insert so iteration order is last-write order
      overlay.set(key, structuredClone(data));
    },
    del(type, id) {
      const key = entityKey(type, id);
      overlay.delete(key);
      overlay.set(key, null);
    },
  };
  try {
    await def.run(tx, parsed.data);
  } catch (e) {
    if (readFailure) throw readFailure.error;
    return { effects: [], error: e instanceof Error ? e.message : String(e) };
  }
  if (readFailure) throw readFailure.error;
  const effects: EffectOp[] = [];
  for (const [key, value] of overlay) {
    if (value !== null && options.limits) {
      // A document the server would refuse (or jsonb would mangle) fails the mutation, writing nothing.
      const problem = valueProblem(value, options.limits.maxDocumentBytes, options.limits.maxDepth);
      if (problem) return { effects: [], error: `document ${key}: ${problem}` };
    }
    effects.push(value === null ? { op: 'del', key } : { op: 'put', key, value });
  }
  return { effects };
}
