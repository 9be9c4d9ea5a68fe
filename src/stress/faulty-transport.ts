import { pullResponseOKSchema, pushResponseOKSchema, TransportError, unwrapResult } from '../protocol/index.ts';
import type { Transport } from '../seams/index.ts';
import type { SyncServer } from '../server/index.ts';
import type { Rng } from '../sim/rng.ts';

export interface FaultRates {
  /** The request never reaches a server. */
  drop: number;
  /** The server commits, the response is lost. */
  lostAck: number;
  /** The request is delivered twice, to two servers picked at random, at once. */
  duplicate: number;
}

export interface TransportStats {
  pushes: number;
  pulls: number;
  drops: number;
  lostAcks: number;
  duplicates: number;
}

/**
 * A client's transport to the fleet: each request goes to a server picked at random, through a
 * JSON round trip (as over HTTP), with faults drawn per request. `faults()` says whether faults
 * are on (they are off while healing).
 */
export function faultyTransport(servers: SyncServer[], rng: Rng, rates: FaultRates, faults: () => boolean, stats: TransportStats): Transport {
  const wire = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
  const pick = () => servers[Math.floor(rng.next() * servers.length)]!;
  const send = async (kind: 'push' | 'pull', req: unknown): Promise<unknown> => {
    const on = faults();
    if (on && rng.chance(rates.drop)) {
      stats.drops++;
      throw new TransportError('dropped (injected)');
    }
    const call = () => (kind === 'push' ? pick().handlePush(wire(req)) : pick().handlePull(wire(req)));
    let result;
    if (on && rng.chance(rates.duplicate)) {
      stats.duplicates++;
      const [first] = await Promise.allSettled([call(), call()]);
      if (first.status === 'rejected') throw new TransportError(`server failed: ${(first.reason as Error).message}`);
      result = first.value;
    } else {
      try {
        result = await call();
      } catch (e) {
        throw new TransportError(`server failed: ${(e as Error).message}`);
      }
    }
    if (on && rng.chance(rates.lostAck)) {
      stats.lostAcks++;
      throw new TransportError('response lost (injected)');
    }
    return unwrapResult(wire(result));
  };
  return {
    async push(req) {
      stats.pushes++;
      return pushResponseOKSchema.parse(await send('push', req));
    },
    async pull(req) {
      stats.pulls++;
      return pullResponseOKSchema.parse(await send('pull', req));
    },
  };
}
