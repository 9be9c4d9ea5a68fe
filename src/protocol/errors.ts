import { z } from 'zod';

export const clientStateNotFoundSchema = z.object({ error: z.literal('ClientStateNotFound') });
export const versionNotSupportedSchema = z.object({
  error: z.literal('VersionNotSupported'),
  versionType: z.enum(['push', 'pull', 'schema']).optional(),
});
/** Our own 4xx body for malformed input: which field, and why. */
export const badRequestSchema = z.object({
  error: z.literal('BadRequest'),
  message: z.string(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
export type ClientStateNotFound = z.infer<typeof clientStateNotFoundSchema>;
export type VersionNotSupported = z.infer<typeof versionNotSupportedSchema>;
export type BadRequest = z.infer<typeof badRequestSchema>;

export const errorBodySchema = z.union([clientStateNotFoundSchema, versionNotSupportedSchema, badRequestSchema]);
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** A transport failure the client can retry (offline, timeout, 5xx, lost response). */
export class TransportError extends Error {
  override name = 'TransportError';
  /** How long the server asked the client to wait before the next request (its Retry-After), if it said. */
  retryAfterMs: number | undefined = undefined;
}

/** The server answered with a protocol error body; carried to the client as a typed error. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
  readonly status: number;
  readonly body: ErrorBody;
  /** How long the server asked the client to wait before the next request (its Retry-After on a 429), if it said. */
  retryAfterMs: number | undefined = undefined;
  constructor(status: number, body: ErrorBody) {
    super(`${body.error}${'message' in body ? `: ${body.message}` : ''}`);
    this.status = status;
    this.body = body;
  }
}

export function formatZodIssues(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
}

/**
 * A Retry-After header in milliseconds: delta-seconds only (what this server sends); an HTTP date
 * or anything else is ignored (undefined), as is a missing header.
 */
export function parseRetryAfter(header: string | null | undefined): number | undefined {
  return header && /^\d{1,9}$/.test(header.trim()) ? Number(header.trim()) * 1000 : undefined;
}

/** The wait a failed request's server asked for (retryAfterMs of a TransportError or ProtocolError), or undefined. */
export function retryAfterOf(e: unknown): number | undefined {
  return e instanceof TransportError || e instanceof ProtocolError ? e.retryAfterMs : undefined;
}
