import { z } from 'zod';
import { jsonValueSchema, safeString } from './json.ts';

/** A mutation as a client makes it: every field checked. */
export const mutationSchema = z.object({
  clientID: safeString,
  id: z.number().int().positive(),
  name: safeString,
  args: jsonValueSchema,
  timestamp: z.number().finite(),
});
export type Mutation = z.infer<typeof mutationSchema>;

/**
 * A mutation as the push envelope accepts it: only what attributes it (clientID, id) is checked
 * here. Name, args and timestamp are checked by the server one mutation at a time, so that one
 * bad mutation is recorded as failed instead of refusing (and wedging) the whole batch.
 */
export const pushedMutationSchema = z.object({
  clientID: safeString,
  id: z.number().int().positive(),
  name: z.unknown(),
  args: z.unknown(),
  timestamp: z.unknown(),
});
export type PushedMutation = z.infer<typeof pushedMutationSchema>;

/** Most mutations one push request may carry (the whole request is refused over it). */
export const maxMutationsPerRequest = 1000;

/**
 * Replicache push v1, the envelope the server validates as a whole. pushVersion is checked
 * before the rest so that a future version gets VersionNotSupported.
 */
export const pushRequestSchema = z.object({
  pushVersion: z.literal(1),
  clientGroupID: safeString,
  mutations: z.array(pushedMutationSchema).max(maxMutationsPerRequest),
  profileID: z.string().max(256),
  schemaVersion: z.string().max(256),
});
/** What the server accepts: mutations not yet checked one by one. */
export type PushEnvelope = z.infer<typeof pushRequestSchema>;
/** What a client sends: its own, well-formed mutations. */
export type PushRequest = Omit<PushEnvelope, 'mutations'> & { mutations: Mutation[] };

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
