import type { z } from 'zod';
import { formatZodIssues, TransportError } from '../../protocol/index.ts';

/** How many of an answer's problems its error names (a page can have thousands). */
const namedProblems = 3;

/**
 * A 2xx answer the protocol does not allow (a proxy that rewrote it, a server of another version)
 * is a failed request like a cut-off one: a TransportError naming what is wrong, so that the sync
 * loop backs off and asks again, and the app sees a readable reason instead of a ZodError's dump.
 * Nothing of the answer is applied.
 */
export function parseAnswer<T>(schema: z.ZodType<T>, body: unknown, what: 'push' | 'pull'): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issues = formatZodIssues(r.error);
  const named = issues.slice(0, namedProblems).map((i) => `${i.path}: ${i.message}`).join('; ');
  throw new TransportError(`invalid ${what} response: ${named}${issues.length > namedProblems ? ` (and ${issues.length - namedProblems} more)` : ''}`);
}
