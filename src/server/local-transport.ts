import { pullResponseOKSchema, pushResponseOKSchema, type PushResponseOK, TransportError, unwrapResult, type PullRequest, type PullResponseOK, type PushRequest } from '../protocol/index.ts';

export { unwrapResult };
import type { Transport } from '../seams/index.ts';
import type { HandlerResult } from './handlers.ts';

export interface LocalHandlers {
  handlePush(body: unknown): Promise<HandlerResult>;
  handlePull(body: unknown): Promise<HandlerResult>;
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
    async push(req: PushRequest): Promise<PushResponseOK> {
      check();
      return pushResponseOKSchema.parse(unwrapResult(wire(await server.handlePush(wire(req)))));
    },
    async pull(req: PullRequest): Promise<PullResponseOK> {
      check();
      return pullResponseOKSchema.parse(unwrapResult(wire(await server.handlePull(wire(req)))));
    },
  };
}
