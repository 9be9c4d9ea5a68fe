import { z } from 'zod';
import { safeString } from './json.ts';
import { patchOpSchema } from './patch.ts';

/**
 * The cookie names the server database it came from (its epoch, chosen when the database was
 * created) and the global version in it. `order` is the version: Replicache requires an
 * `order` field on object cookies. A cookie of another epoch (the database was wiped or
 * restored) gets ClientStateNotFound, never a patch computed against the wrong history.
 */
export const cookieObjectSchema = z.object({
  order: z.number().int().nonnegative(),
  epoch: z.string().min(1).max(64),
  /**
   * Which mutation took version `order` (see src/server/fingerprint.ts): a database restored
   * from an older backup keeps its epoch, and this tells its history from the client's.
   * Optional: cookies from before it are accepted unchecked.
   */
  fp: z.string().min(1).max(32).optional(),
  /**
   * Mid-bootstrap (src/server/pull.ts): the client holds, staged and not yet shown, the state at
   * version `order` up to this key; the next page continues after it. Absent: a state the client
   * may show.
   */
  stage: z.string().max(1024).optional(),
});
export type CookieObject = z.infer<typeof cookieObjectSchema>;
/** null before the first pull; a bare number is a cookie from before epochs (answered ClientStateNotFound). */
export const cookieSchema = z.union([z.null(), cookieObjectSchema, z.number().int().nonnegative()]);
export type Cookie = z.infer<typeof cookieSchema>;

export const pullRequestSchema = z.object({
  pullVersion: z.literal(1),
  clientGroupID: safeString,
  cookie: cookieSchema,
  profileID: z.string().max(256),
  schemaVersion: z.string().max(256),
  /**
   * Lockstep's engine stages a multi-page full state and shows it at once (src/server/pull.ts
   * basePage). A stock Replicache client does not send this: it would show each page as it
   * arrives, a state the server never had, so it gets a full state in one page instead.
   */
  stagedBootstrap: z.boolean().optional(),
});
export type PullRequest = z.infer<typeof pullRequestSchema>;

export const pullResponseOKSchema = z.object({
  cookie: cookieObjectSchema,
  lastMutationIDChanges: z.record(z.string(), z.number().int().nonnegative()),
  patch: z.array(patchOpSchema),
  /**
   * Lockstep's server says whether another page follows (false: this answer brings the client
   * to the server's version at its snapshot), so the engine need not send a pull only to hear
   * that it is up to date. Optional and additive: a stock Replicache client ignores it, and an
   * answer without it (an older server) means "perhaps": the engine pulls again, as before.
   */
  more: z.boolean().optional(),
});
export type PullResponseOK = z.infer<typeof pullResponseOKSchema>;
