import { errorBodySchema, ProtocolError, pullResponseOKSchema, TransportError, type PullRequest, type PullResponseOK, type PushRequest } from '../protocol/index.ts';
import type { Transport } from '../engine/seams.ts';
import type { HandlerResult } from './handlers.ts';

export interface LocalHandlers {
  handlePush(body: unknown): Promise<HandlerResult>;
  handlePull(body: unknown): Promise<HandlerResult>;
}

/** Turns a handler result into what a Transport promises: a value, ProtocolError or TransportError. */
export function unwrapResult(r: HandlerResult): unknown {
  const err = errorBodySchema.safeParse(r.body);
  if (err.success) throw new ProtocolError(r.status, err.data);
  if (r.status >= 500) throw new TransportError(`server error ${r.status}`);
  if (r.status !== 200) throw new ProtocolError(r.status, { error: 'BadRequest', message: `unexpected status ${r.status}` });
  return r.body;
}

/**
 * An in-process Transport over a sync server's handlers: requests and responses go through a
 * JSON round trip, as over HTTP. `online` lets tests and demos take a client offline.
 */
export function localTransport(server: LocalHandlers, options: { online?: () => boolean } = {}): Transport {
  const check = () => {
    if (options.online && !options.online()) throw new TransportError('offline');
  };
  const wire = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
  return {
    async push(req: PushRequest): Promise<void> {
      check();
      unwrapResult(wire(await server.handlePush(wire(req))));
    },
    async pull(req: PullRequest): Promise<PullResponseOK> {
      check();
      return pullResponseOKSchema.parse(unwrapResult(wire(await server.handlePull(wire(req)))));
    },
  };
}
