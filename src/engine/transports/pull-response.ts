import { z } from 'zod';
import { cookieObjectSchema, defaultLimits, forbiddenKeys, jsonProblem, type PatchOp, type PullResponseOK } from '../../protocol/index.ts';

/**
 * Whether jsonProblem would find nothing, without building the path of every value it visits
 * (a page of 25,000 documents built a path string per field); jsonProblem runs only to name a
 * problem this finds.
 */
function plainJson(v: unknown, depth: number): boolean {
  if (v === null || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (typeof v === 'string') return !v.includes('\u0000') && v.isWellFormed();
  if (typeof v !== 'object' || depth >= defaultLimits.maxDepth) return false;
  if (Array.isArray(v)) {
    for (const x of v) if (!plainJson(x, depth + 1)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const k of Object.keys(v)) {
    if (forbiddenKeys.has(k) || k.includes('\u0000') || !k.isWellFormed() || !plainJson((v as Record<string, unknown>)[k], depth + 1)) return false;
  }
  return true;
}

/** Why `v` is not a patch op as patchOpSchema (protocol/patch.ts) defines one, or undefined. */
function patchOpProblem(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'must be an object';
  const { op, key, value } = v as { op?: unknown; key?: unknown; value?: unknown };
  if (op === 'clear') return undefined;
  if (op !== 'put' && op !== 'del') return 'op must be "put", "del" or "clear"';
  if (typeof key !== 'string' || key.length === 0) return 'key must be a non-empty string';
  if (op === 'del') return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'value must be a JSON object';
  if (plainJson(value, 0)) return undefined;
  const p = jsonProblem(value);
  return p && `value: ${p}`;
}

/**
 * A pull response as it arrives, checked with the rules of pullResponseOKSchema but its patch
 * in place: one loop over the ops instead of a zod object per op and a record per document,
 * which copied every document of a page and was a third of a large catch-up's parse time. The
 * documents come from JSON.parse, so they are plain JSON already; jsonProblem checks what jsonb
 * would refuse, as the protocol's schema does.
 */
export const pullResponseWireSchema = z.object({
  cookie: cookieObjectSchema,
  lastMutationIDChanges: z.record(z.string(), z.number().int().nonnegative()),
  // z.custom, not z.array(z.unknown()): that parsed every op once more into a copy of the array.
  patch: z.custom<unknown[]>((v) => Array.isArray(v), { message: 'patch must be an array' }).superRefine((ops, ctx) => {
    for (let i = 0; i < ops.length; i++) {
      const p = patchOpProblem(ops[i]);
      if (p) ctx.addIssue({ code: 'custom', path: [i], message: p });
    }
  }) as unknown as z.ZodType<PatchOp[]>,
  more: z.boolean().optional(),
}) as unknown as z.ZodType<PullResponseOK>;
