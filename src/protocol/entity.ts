import { z } from 'zod';
import { jsonObjectSchema, safeString, type JSONObject } from './json.ts';

/** Entity types and ids may not contain '/', so that `${type}/${id}` parses back unambiguously. */
export const entityTypeSchema = safeString.regex(/^[^/]+$/, 'must not contain "/"');
export const entityIdSchema = safeString.regex(/^[^/]+$/, 'must not contain "/"');

export const entitySchema = z.object({
  type: entityTypeSchema,
  id: entityIdSchema,
  data: jsonObjectSchema,
});
export type Entity = z.infer<typeof entitySchema>;
export type EntityData = JSONObject;

export function entityKey(type: string, id: string): string {
  return `${type}/${id}`;
}

export function parseKey(key: string): { type: string; id: string } {
  const slash = key.indexOf('/');
  if (slash <= 0) throw new Error(`malformed entity key ${JSON.stringify(key)}`);
  return { type: key.slice(0, slash), id: key.slice(slash + 1) };
}
