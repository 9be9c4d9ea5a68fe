import { z } from 'zod';
import { safeString } from './json.ts';
import { patchOpSchema } from './patch.ts';

/** Our cookie is the server's global version: a non-negative integer, or null before the first pull. */
export const cookieSchema = z.number().int().nonnegative().nullable();
export type Cookie = z.infer<typeof cookieSchema>;

export const pullRequestSchema = z.object({
  pullVersion: z.literal(1),
  clientGroupID: safeString,
  cookie: cookieSchema,
  profileID: z.string().max(256),
  schemaVersion: z.string().max(256),
});
export type PullRequest = z.infer<typeof pullRequestSchema>;

export const pullResponseOKSchema = z.object({
  cookie: z.number().int().nonnegative(),
  lastMutationIDChanges: z.record(z.string(), z.number().int().nonnegative()),
  patch: z.array(patchOpSchema),
});
export type PullResponseOK = z.infer<typeof pullResponseOKSchema>;
