import { z } from 'zod';

export type JSONValue = null | boolean | number | string | JSONValue[] | { [key: string]: JSONValue };
export type JSONObject = { [key: string]: JSONValue };

// NUL bytes are refused by Postgres text/jsonb; reject them at the boundary so nothing half-writes.
const noNul = (s: string) => !s.includes('\u0000');

export const jsonValueSchema: z.ZodType<JSONValue> = z.lazy(() =>
  z.union([
    z.null(),
    z.boolean(),
    z.number().refine(Number.isFinite, 'must be a finite number'),
    z.string().refine(noNul, 'must not contain NUL bytes'),
    z.array(jsonValueSchema),
    z.record(z.string().refine(noNul, 'keys must not contain NUL bytes'), jsonValueSchema),
  ]),
);

export const jsonObjectSchema: z.ZodType<JSONObject> = z.record(
  z.string().refine(noNul, 'keys must not contain NUL bytes'),
  jsonValueSchema,
);

export const safeString = z.string().min(1).max(256).refine(noNul, 'must not contain NUL bytes');
