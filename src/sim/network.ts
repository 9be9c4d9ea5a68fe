import { pullResponseOKSchema, pushResponseOKSchema, type PushResponseOK, TransportError, type PullRequest, type PullResponseOK, type PushRequest } from '../protocol/index.ts';
import type { Transport } from '../seams/index.ts';
import { handlePull, handlePush, type HandlerResult } from '../server/handlers.ts';
import { unwrapResult } from '../server/local-transport.ts';
import { Crash } from './scheduler.ts';
import { exceptionViolation } from './findings.ts';
import { isOffline } from './faults/offline.ts';
import { isPartitioned } from './faults/partition.ts';
import { drop, duplicate, latency, lostAck } from './faults/network-faults.ts';
import type { SimClient, World } from './world-types.ts';

/**
 * The simulated network is the clients' Transport. A request is delivered to the server by a task
 * of the server's (so a client crash does not stop a request already on the wire, and a server
 * crash kills it), and the client waits for the response through the scheduler.
 */
export function simTransport(world: World, c: SimClient): Transport {
  const send = async (kind: 'push' | 'pull', body: PushRequest | PullRequest): Promise<unknown> => {
    const { sched } = world;
    const net = world.network;
    const msg = ++c.messages;
    const rng = world.netRng.fork(`${c.name}/${msg}`);
    const label = `${kind}#${msg}`;
    // Draw the message's whole fate first, in a fixed order.
    const fate = { drop: drop(rng, net), there: latency(rng, net), dup: duplicate(rng, net), dupLatency: latency(rng, net), lostAck: lostAck(rng, net), back: latency(rng, net) };
    if (kind === 'push') world.stats.pushes++;
    else world.stats.pulls++;
    if (isOffline(world, c)) {
      await sched.yield();
      sched.record(c.name, `${kind}-offline`, label);
      throw new TransportError('offline');
    }
    sched.record(c.name, `${kind}-send`, `${label}${kind === 'push' ? ` ${(body as PushRequest).mutations.map((m) => m.id).join(',')}` : ` cookie ${(body as PullRequest).cookie === null ? null : JSON.stringify((body as PullRequest).cookie)}`}`);
    const timeout = () => new TransportError(`${label} timed out`);
    if (isPartitioned(world, c) || fate.drop) {
      world.countFault(isPartitioned(world, c) ? 'partition-timeout' : 'drop');
      sched.record(c.name, isPartitioned(world, c) ? 'partitioned' : 'drop', label);
      await sched.sleep(net.timeoutMs);
      throw timeout();
    }
    const wire = JSON.stringify(body);
    const response = sched.future<HandlerResult>();
    const deliver = (delay: number, copy: string) =>
      sched.spawn('server', `${c.name} ${label}${copy}`, async () => {
        await sched.sleep(delay);
        if (!world.server.up) {
          sched.record('server', 'refused', `${c.name} ${label}${copy}`);
          response.reject(new TransportError('connection refused: server down'));
          return;
        }
        sched.record('server', `${kind}-recv`, `${c.name} ${label}${copy}`);
        try {
          const database = world.server.database;
          const result = kind === 'push' ? await handlePush(database, JSON.parse(wire)) : await handlePull(database, JSON.parse(wire));
          sched.record('server', `${kind}-done`, `${c.name} ${label}${copy} ${result.status}`);
          world.answers.push({ lane: c.name, label: `${label}${copy}`, t: sched.now, status: result.status, injected: false, ...(result.status >= 500 ? { error: JSON.stringify(result.body).slice(0, 300) } : {}) });
          response.resolve(JSON.parse(JSON.stringify(result)) as HandlerResult);
        } catch (e) {
          if (e instanceof Crash) {
            response.reject(new TransportError('connection reset: server crashed'));
            throw e;
          }
          // An unexpected server error is a 500 to the client, and worth a line in the trace.
          world.stats.serverErrors++;
          const v = exceptionViolation(e, {}, 'server-error');
          world.answers.push({ lane: c.name, label: `${label}${copy}`, t: sched.now, status: 500, injected: false, error: `${v.checker}: ${v.message}` });
          sched.record('server', 'error', `${c.name} ${label}${copy}: ${(e as Error).message}`);
          response.resolve({ status: 500, body: { error: 'InternalError', message: (e as Error).message } });
        }
      });
    deliver(fate.there, '');
    if (fate.dup) {
      world.countFault('duplicate');
      deliver(fate.dupLatency, ' (dup)');
    }
    const result = await sched.waitFor(response, net.timeoutMs, timeout);
    if (fate.lostAck) {
      world.countFault('lost-ack');
      sched.record(c.name, 'lost-ack', label);
      await sched.sleep(fate.back);
      throw new TransportError(`${label}: response lost`);
    }
    await sched.sleep(fate.back);
    sched.record(c.name, `${kind}-recv`, `${label} ${result.status}`);
    return unwrapResult(result);
  };
  return {
    async push(req): Promise<PushResponseOK> {
      return pushResponseOKSchema.parse(await send('push', req));
    },
    async pull(req): Promise<PullResponseOK> {
      return pullResponseOKSchema.parse(await send('pull', req));
    },
  };
}

