import { serverFnTransport } from '../engine/transports/server-fn.ts';
import type { Transport } from '../seams/index.ts';
import type { SimClient, World } from './world-types.ts';

/**
 * Whether this client syncs through the TanStack Start server-function door (wide.doorRate), as the
 * demo does with ?transport=serverfn. Decided once per client slot from its own stream, so a crash
 * or a wipe keeps the door, and seeds without the knob draw nothing.
 */
export function usesServerFnDoor(world: World, c: SimClient): boolean {
  const rate = world.config.wide?.doorRate;
  return rate !== undefined && rate > 0 && c.rng.fork('server-fn-door').next() < rate;
}

/**
 * The production serverFnTransport (src/engine/transports/server-fn.ts), its pushChanges and
 * pullChanges calls made as Start's client makes them: a POST to /_serverFn/... with the bearer
 * token in the Authorization header and the request as the JSON body, over the simulated network
 * (network.ts serves it through guardServerFn and withToken, as start.ts's middleware and
 * server-fns.ts's handlers do). An answer cut off in transit fails to parse, as Start's
 * deserializer would: serverFnTransport turns that into a TransportError.
 */
export function serverFnDoor(f: typeof fetch, baseURL: string, token: () => Promise<string>): Transport {
  const call = (kind: 'push' | 'pull') => async ({ data }: { data: { token: string; request: unknown } }) => {
    const res = await f(`${baseURL}/_serverFn/${kind}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${data.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(data.request),
    });
    return { status: res.status, body: JSON.parse(await res.text()) as unknown };
  };
  return serverFnTransport({ pushChanges: call('push'), pullChanges: call('pull') }, token);
}
