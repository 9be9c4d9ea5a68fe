import { z } from 'zod';
import { defaultLimits, jsonProblem } from './limits.ts';

export type JSONValue = null | boolean | number | string | JSONValue[] | { [key: string]: JSONValue };
export type JSONObject = { [key: string]: JSONValue };

// NUL bytes are refused by Postgres text/jsonb; reject them at the boundary so nothing half-writes.
const noNul = (s: string) => !s.includes('\u0000');
const wellFormed = (s: string) => s.isWellFormed();

/**
 * Any JSON value fit to store: checked by one iterative walk (jsonProblem), never by a recursive
 * zod schema, so a deeply nested value gets a clear error instead of a stack overflow.
 */
export const jsonValueSchema = z.unknown().superRefine((v, ctx) => {
  const p = jsonProblem(v, defaultLimits.maxDepth);
  if (p) ctx.addIssue({ code: 'custom', message: p });
}) as unknown as z.ZodType<JSONValue>;

export const jsonObjectSchema = z
  .record(z.string(), z.unknown())
  .superRefine((v, ctx) => {
    const p = jsonProblem(v, defaultLimits.maxDepth);
    if (p) ctx.addIssue({ code: 'custom', message: p });
  }) as unknown as z.ZodType<JSONObject>;

export const safeString = z
  .string()
  .min(1)
  .max(256)
  .refine(noNul, 'must not contain NUL bytes')
  .refine(wellFormed, 'must be well-formed Unicode');
