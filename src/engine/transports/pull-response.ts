import { z } from 'zod';
import { cookieObjectSchema, jsonProblem, type PatchOp, type PullResponseOK } from '../../protocol/index.ts';

/** Why `v` is not a patch op as patchOpSchema (protocol/patch.ts) defines one, or undefined. */
function patchOpProblem(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'must be an object';
  const { op, key, value } = v as { op?: unknown; key?: unknown; value?: unknown };
  if (op === 'clear') return undefined;
  if (op !== 'put' && op !== 'del') return 'op must be "put", "del" or "clear"';
  if (typeof key !== 'string' || key.length === 0) return 'key must be a non-empty string';
  if (op === 'del') return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'value must be a JSON object';
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
  patch: z.array(z.unknown()).superRefine((ops, ctx) => {
    for (let i = 0; i < ops.length; i++) {
      const p = patchOpProblem(ops[i]);
      if (p) ctx.addIssue({ code: 'custom', path: [i], message: p });
    }
  }) as unknown as z.ZodType<PatchOp[]>,
}) as unknown as z.ZodType<PullResponseOK>;
