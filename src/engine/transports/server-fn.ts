import { pushResponseOKSchema, type PushResponseOK, TransportError, unwrapResult, type PullRequest, type PullResponseOK, type PushRequest } from '../../protocol/index.ts';
import { pullResponseWireSchema } from './pull-response.ts';
import { parseAnswer } from './parse-answer.ts';
import type { Transport } from '../../seams/index.ts';

type Call = (opts: { data: { token: string; request: any } }) => Promise<{ status: number; body: unknown }>;

/** A Transport over the TanStack Start server functions pushChanges / pullChanges. */
export function serverFnTransport(fns: { pushChanges: Call; pullChanges: Call }, token: () => string | Promise<string>): Transport {
  const call = async (fn: Call, request: unknown) => {
    let r;
    try {
      r = await fn({ data: { token: await token(), request } });
    } catch (e) {
      throw new TransportError(`server function failed: ${(e as Error).message}`);
    }
    return unwrapResult(r);
  };
  return {
    async push(req: PushRequest): Promise<PushResponseOK> {
      return parseAnswer(pushResponseOKSchema, await call(fns.pushChanges, req), 'push');
    },
    async pull(req: PullRequest): Promise<PullResponseOK> {
      return parseAnswer(pullResponseWireSchema, await call(fns.pullChanges, req), 'pull');
    },
  };
}
