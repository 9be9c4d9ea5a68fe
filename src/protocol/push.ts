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

/**
 * A successful push answers 200 with this object (a stock Replicache client ignores its fields).
 * `lastMutationIDs`: per client of the push, the highest mutation id the server now holds
 * (applied, recorded as failed, or already known); a push cut short by the server's work budget
 * says here how far it got, and the client resends the rest. `failed`: the mutations of this push
 * that the server recorded as failed, and why (they still advance the last mutation id).
 */
export const pushResponseOKSchema = z.object({
  lastMutationIDs: z.record(z.string(), z.number().int().nonnegative()).optional(),
  failed: z.array(z.object({ clientID: z.string(), id: z.number().int().positive(), error: z.string() })).optional(),
});
export type PushResponseOK = z.infer<typeof pushResponseOKSchema>;
/** @deprecated the old name; a push answers PushResponseOK. */
export type PushResponse = PushResponseOK;
