import { z } from 'zod';
import { jsonValueSchema, safeString } from './json.ts';

export const mutationSchema = z.object({
  clientID: safeString,
  id: z.number().int().positive(),
  name: safeString,
  args: jsonValueSchema,
  timestamp: z.number().finite(),
});
export type Mutation = z.infer<typeof mutationSchema>;

/** Replicache push v1. pushVersion is checked before the rest so that a future version gets VersionNotSupported. */
export const pushRequestSchema = z.object({
  pushVersion: z.literal(1),
  clientGroupID: safeString,
  mutations: z.array(mutationSchema).max(1000),
  profileID: z.string().max(256),
  schemaVersion: z.string().max(256),
});
export type PushRequest = z.infer<typeof pushRequestSchema>;

/** A successful push answers with an empty object (Replicache accepts any 200). */
export type PushResponse = Record<string, never>;
