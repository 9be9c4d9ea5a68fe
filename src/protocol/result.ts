import { errorBodySchema, ProtocolError, TransportError } from './errors.ts';

/** Turns an HTTP-like result into what a Transport promises: the body, a ProtocolError, or a retryable TransportError. */
export function unwrapResult(r: { status: number; body: unknown }): unknown {
  const err = errorBodySchema.safeParse(r.body);
  if (err.success) throw new ProtocolError(r.status, err.data);
  if (r.status >= 500) throw new TransportError(`server error ${r.status}`);
  if (r.status !== 200) {
    const message = typeof (r.body as { message?: unknown } | null)?.message === 'string' ? (r.body as { message: string }).message : `status ${r.status}`;
    throw new ProtocolError(r.status, { error: 'BadRequest', message });
  }
  return r.body;
}
