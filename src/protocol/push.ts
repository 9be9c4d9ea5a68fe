import { z } from 'zod';
import { jsonValueSchema, safeString } from './json.ts';

/**
 * Most earlier identities one mutation carries (the latest are kept; the server's default limit). A mutation takes a new
 * identity only when its client starts over (a reset) or moves to a new client group, so a
 * client's pending mutations share the same few identities: 8 covers 8 starts-over in a row.
 */
export const maxOriginsPerMutation = 8;
/** Most distinct client ids the origins of one push request may name (a bound on the rows a push locks; the server's default limit). */
export const maxOriginClientsPerPush = 64;

/**
 * An identity a re-queued mutation had before: the client id and mutation id under which an
 * earlier copy of it may have reached the server (see origins below).
 */
export const originSchema = z.object({ clientID: safeString, id: z.number().int().positive() });
export type Origin = z.infer<typeof originSchema>;

/**
 * `origins`: the identities this mutation had before it was re-queued under its current one,
 * oldest first (a client that started over after ClientStateNotFound, or moved to a new client
 * group, re-sends its pending mutations under new ids; an earlier copy may already be applied).
 * The server applies the mutation only if no origin is already applied in its database, and then
 * fences the origins so a late copy under an old identity is a duplicate. Optional: stock
 * Replicache clients do not send it.
 */
const originsSchema = z.array(originSchema).max(maxOriginsPerMutation, `at most ${maxOriginsPerMutation} origins per mutation (maxOriginsPerMutation)`).optional();

/** A mutation's origins once it is re-queued under a new identity: its current one added last, the oldest dropped past the cap. */
export function requeuedOrigins(m: { clientID: string; id: number; origins?: readonly Origin[] }): Origin[] {
  return [...(m.origins ?? []), { clientID: m.clientID, id: m.id }].slice(-maxOriginsPerMutation);
}

/** A mutation as a client makes it: every field checked. */
export const mutationSchema = z.object({
  clientID: safeString,
  id: z.number().int().positive(),
  name: safeString,
  args: jsonValueSchema,
  timestamp: z.number().finite(),
  origins: originsSchema,
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
  // Checked with the envelope: origins decide whether the mutation is applied at all. Their
  // count limits are the server's (maxOriginsPerMutation, maxOriginClientsPerPush in ServerLimits).
  origins: z.array(originSchema).optional(),
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
