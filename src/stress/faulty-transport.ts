import { ProtocolError, TransportError, type PullResponseOK, type PushResponseOK } from '../protocol/index.ts';
import type { Transport } from '../seams/index.ts';
import { localTransport } from '../server/index.ts';
import type { LocalHandlers } from '../server/local-transport.ts';
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
 * A client's transport to the fleet: each request goes through the real localTransport (a JSON
 * round trip, as over HTTP) of a server picked at random, with faults drawn per request.
 * `faults()` says whether faults are on (they are off while healing).
 */
export function faultyTransport(servers: LocalHandlers[], rng: Rng, rates: FaultRates, faults: () => boolean, stats: TransportStats): Transport {
  const transports = servers.map((s) => localTransport(s));
  const pick = () => transports[Math.floor(rng.next() * transports.length)]!;
  const send = async <T>(call: (t: Transport) => Promise<T>): Promise<T> => {
    const on = faults();
    if (on && rng.chance(rates.drop)) {
      stats.drops++;
      throw new TransportError('dropped (injected)');
    }
    const once = async () => {
      try {
        return await call(pick());
      } catch (e) {
        // A server that throws (not a protocol answer) is a 5xx to the client: retryable.
        if (e instanceof ProtocolError || e instanceof TransportError) throw e;
        throw new TransportError(`server failed: ${(e as Error).message}`);
      }
    };
    let result: T;
    if (on && rng.chance(rates.duplicate)) {
      stats.duplicates++;
      const [first] = await Promise.allSettled([once(), once()]);
      if (first.status === 'rejected') throw first.reason;
      result = first.value;
    } else result = await once();
    if (on && rng.chance(rates.lostAck)) {
      stats.lostAcks++;
      throw new TransportError('response lost (injected)');
    }
    return result;
  };
  return {
    push(req): Promise<PushResponseOK> {
      stats.pushes++;
      return send((t) => t.push(req));
    },
    pull(req): Promise<PullResponseOK> {
      stats.pulls++;
      return send((t) => t.pull(req));
    },
  };
}
