import { z } from 'zod';
import { jsonObjectSchema } from './json.ts';

export const patchOpSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('put'), key: z.string().min(1), value: jsonObjectSchema }),
  z.object({ op: z.literal('del'), key: z.string().min(1) }),
  z.object({ op: z.literal('clear') }),
]);
export type PatchOp = z.infer<typeof patchOpSchema>;
/** What a mutation writes: a put or a delete of one key (never a clear, which only a pull sends). */
export type EffectOp = Exclude<PatchOp, { op: 'clear' }>;
