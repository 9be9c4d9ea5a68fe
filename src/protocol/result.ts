import { errorBodySchema, ProtocolError, TransportError } from './errors.ts';

/**
 * Turns an HTTP-like result into what a Transport promises: the body, a ProtocolError, or a
 * retryable TransportError. `retryAfterMs` (the answer's Retry-After, see parseRetryAfter) goes
 * on the error, for the sync loop's backoff.
 */
export function unwrapResult(r: { status: number; body: unknown; retryAfterMs?: number }): unknown {
  const err = errorBodySchema.safeParse(r.body);
  if (err.success) throw withRetryAfter(new ProtocolError(r.status, err.data), r.retryAfterMs);
  if (r.status >= 500) throw withRetryAfter(new TransportError(`server error ${r.status}`), r.retryAfterMs);
  if (r.status !== 200) {
    const message = typeof (r.body as { message?: unknown } | null)?.message === 'string' ? (r.body as { message: string }).message : `status ${r.status}`;
    throw withRetryAfter(new ProtocolError(r.status, { error: 'BadRequest', message }), r.retryAfterMs);
  }
  return r.body;
}

function withRetryAfter<E extends TransportError | ProtocolError>(e: E, ms: number | undefined): E {
  e.retryAfterMs = ms;
  return e;
}
