import { ProtocolError, TransportError, type PullRequest, type PushRequest } from '../protocol/index.ts';
import type { Transport } from '../seams/index.ts';
import { fetchTransport } from '../engine/transports/fetch-json.ts';
import { Crash } from './scheduler.ts';
import { exceptionViolation } from './findings.ts';
import { isOffline } from './faults/offline.ts';
import { isPartitioned } from './faults/partition.ts';
import { drop, duplicate, latency, lostAck } from './faults/network-faults.ts';
import { httpFate, injectedErrorAnswer, truncate } from './faults/http-faults.ts';
import { apiState, simApi } from './sim-api.ts';
import { moveToNewGroup } from './identity.ts';
import type { SimClient, World } from './world-types.ts';

const BASE = 'http://sim';
type Kind = 'push' | 'pull' | 'register';
interface Answer {
  status: number;
  text: string;
}

/**
 * The simulated network is the clients' Transport: the production fetch transport, whose `fetch`
 * carries each request over the simulated network to the app's SyncApi (token auth, body limits,
 * rate limits, JSON). A request is delivered to the server by a task of the server's (so a client
 * crash does not stop a request already on the wire, and a server crash kills it), and the client
 * waits for the response through the scheduler. Each client group registers on its first request
 * and keeps its token (as a browser keeps it in localStorage); a 401 registers again once.
 */
export function simTransport(world: World, c: SimClient): Transport {
  const f = simFetch(world, c);
  // One engine uses this transport: its requests name its client group.
  let group = '';
  const inner = fetchTransport({ baseURL: BASE, token: () => tokenOf(world, c, group, f), fetch: f });
  const retrying = async <T>(clientGroupID: string, call: () => Promise<T>): Promise<T> => {
    group = clientGroupID;
    try {
      return await call();
    } catch (e) {
      // The server lost or never had our token (a lost or restored database): register again, once.
      if (!(e instanceof ProtocolError && e.status === 401)) throw e;
      apiState(world).kept.delete(clientGroupID);
      return call();
    }
  };
  return {
    push: (req: PushRequest) => retrying(req.clientGroupID, () => inner.push(req)),
    pull: (req: PullRequest) => retrying(req.clientGroupID, () => inner.pull(req)),
  };
}

/**
 * The group's kept token, registering it first (POST /api/register over the same network). One
 * registration at a time per group: two racing ones would bind the group to the first token and
 * answer the other 409, which looks exactly like a lost token.
 */
async function tokenOf(world: World, c: SimClient, group: string, f: typeof fetch): Promise<string> {
  const s = apiState(world);
  const token = s.kept.get(group);
  if (token) return token;
  const pending = s.registering.get(group);
  // Waiting goes through the scheduler (a bare await on another task's promise would stall the run).
  if (pending) return world.sched.waitFor(pending, world.network.timeoutMs * 2, () => new TransportError('register: timed out waiting for another registration'));
  const done = world.sched.future<string>();
  s.registering.set(group, done);
  try {
    const t = await register(world, c, group, f);
    done.resolve(t);
    return t;
  } catch (e) {
    // A crash of this task is not the waiters' crash: they see a failed registration.
    done.reject(e instanceof Crash ? new TransportError('register: the registering task crashed') : (e as Error));
    throw e;
  } finally {
    s.registering.delete(group);
  }
}

async function register(world: World, c: SimClient, group: string, f: typeof fetch): Promise<string> {
  const kept = apiState(world).kept;
  let res: Response;
  try {
    res = await f(`${BASE}/api/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ clientGroupID: group }) });
  } catch (e) {
    throw new TransportError(`register: ${(e as Error).message}`);
  }
  const body = (await res.json().catch(() => null)) as { token?: string } | null;
  if (res.status === 200 && body?.token) {
    kept.set(group, body.token);
    world.sched.record(c.name, 'registered', group);
    return body.token;
  }
  // 409: the group is bound to a token this client lost (a register whose answer was lost, or a
  // token-loss fault); only a new client group gets a token.
  if (res.status === 409) {
    world.sched.record(c.name, 'token-lost', group);
    const engine = c.engine;
    if (engine?.clientGroupID === group) world.sched.spawn('sim', `move ${c.name}`, () => moveToNewGroup(world, c, engine));
  }
  throw new TransportError(`register failed (${res.status})`);
}

/** A fetch over the simulated network to the SyncApi; network and HTTP faults happen here. */
function simFetch(world: World, c: SimClient): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const { sched } = world;
    const net = world.network;
    const url = String(input);
    const kind: Kind = url.endsWith('/push') ? 'push' : url.endsWith('/pull') ? 'pull' : 'register';
    const wire = String(init?.body ?? '');
    const headers = new Headers(init?.headers);
    const msg = ++c.messages;
    const rng = world.netRng.fork(`${c.name}/${msg}`);
    const label = `${kind}#${msg}`;
    // Draw the message's whole fate first, in a fixed order (the HTTP faults after the network's).
    const fate = { drop: drop(rng, net), there: latency(rng, net), dup: duplicate(rng, net), dupLatency: latency(rng, net), lostAck: lostAck(rng, net), back: latency(rng, net), http: httpFate(rng, net) };
    if (kind === 'push') world.stats.pushes++;
    else if (kind === 'pull') world.stats.pulls++;
    if (isOffline(world, c)) {
      await sched.yield();
      sched.record(c.name, `${kind}-offline`, label);
      throw new TypeError('offline');
    }
    sched.record(c.name, `${kind}-send`, `${label}${describe(kind, wire)}`);
    const timeout = () => new TypeError(`${label} timed out`);
    if (isPartitioned(world, c) || fate.drop) {
      world.countFault(isPartitioned(world, c) ? 'partition-timeout' : 'drop');
      sched.record(c.name, isPartitioned(world, c) ? 'partitioned' : 'drop', label);
      await sched.sleep(net.timeoutMs);
      throw timeout();
    }
    const response = sched.future<Answer>();
    const answer = (copy: string, a: Answer & { injected?: boolean; error?: string }) =>
      world.answers.push({ lane: c.name, label: `${label}${copy}`, t: sched.now, status: a.status, injected: a.injected ?? false, ...(a.error ? { error: a.error } : {}) });
    const deliver = (delay: number, copy: string) =>
      sched.spawn('server', `${c.name} ${label}${copy}`, async () => {
        await sched.sleep(delay);
        if (!world.server.up) {
          sched.record('server', 'refused', `${c.name} ${label}${copy}`);
          response.reject(new TypeError('connection refused: server down'));
          return;
        }
        // A proxy in front of the server answers 5xx without passing the request on.
        if (fate.http.error === 'before' && !copy) {
          world.countFault('injected-5xx');
          sched.record('server', 'injected-5xx', `${c.name} ${label} (not processed)`);
          answer(copy, { ...injectedErrorAnswer, injected: true });
          response.resolve(injectedErrorAnswer);
          return;
        }
        sched.record('server', `${kind}-recv`, `${c.name} ${label}${copy}`);
        let a: Answer;
        try {
          a = await serve(world, c, kind, wire, headers);
          sched.record('server', `${kind}-done`, `${c.name} ${label}${copy} ${a.status}`);
          answer(copy, { ...a, ...(a.status >= 500 ? { error: a.text.slice(0, 300) } : {}) });
        } catch (e) {
          if (e instanceof Crash) {
            response.reject(new TypeError('connection reset: server crashed'));
            throw e;
          }
          // An unexpected server error is a 500 to the client (as srvx answers), and worth a line in the trace.
          world.stats.serverErrors++;
          const v = exceptionViolation(e, {}, 'server-error');
          sched.record('server', 'error', `${c.name} ${label}${copy}: ${(e as Error).message}`);
          a = { status: 500, text: JSON.stringify({ error: 'InternalError', message: (e as Error).message }) };
          answer(copy, { ...a, error: `${v.checker}: ${v.message}` });
        }
        if (copy) return;
        if (fate.http.error === 'after') {
          // The server processed it; the proxy's 5xx replaces the answer.
          world.countFault('injected-5xx');
          sched.record('server', 'injected-5xx', `${c.name} ${label} (processed)`);
          answer(copy, { ...injectedErrorAnswer, injected: true });
          a = injectedErrorAnswer;
        }
        if (fate.http.slowMs !== undefined) {
          world.countFault('slow-response');
          sched.record('server', 'slow-response', `${c.name} ${label} ${fate.http.slowMs} ms`);
          await sched.sleep(fate.http.slowMs);
        }
        response.resolve(a);
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
      throw new TypeError(`${label}: response lost`);
    }
    await sched.sleep(fate.back);
    sched.record(c.name, `${kind}-recv`, `${label} ${result.status}`);
    let text = result.text;
    if (fate.http.truncateAt !== undefined && text.length > 0) {
      world.countFault('truncated');
      sched.record(c.name, 'truncated', label);
      text = truncate(text, fate.http.truncateAt);
    }
    return new Response(text, { status: result.status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
}

/** One request at the SyncApi, as the app's routes mount it; the client's address is its lane. */
async function serve(world: World, c: SimClient, kind: Kind, wire: string, headers: Headers): Promise<Answer> {
  const api = await simApi(world);
  const path = kind === 'register' ? '/api/register' : `/api/replicache/${kind}`;
  const request = new Request(`${BASE}${path}`, { method: 'POST', headers, body: wire });
  Object.defineProperty(request, 'ip', { value: c.name });
  const res = kind === 'push' ? await api.push(request) : kind === 'pull' ? await api.pull(request) : await api.register(request);
  return { status: res.status, text: await res.text() };
}

function describe(kind: Kind, wire: string): string {
  try {
    const body = JSON.parse(wire) as PushRequest & PullRequest;
    if (kind === 'push') return ` ${body.mutations.map((m) => m.id).join(',')}`;
    if (kind === 'pull') return ` cookie ${body.cookie === null ? null : JSON.stringify(body.cookie)}`;
    return '';
  } catch {
    return ' (unparsable)';
  }
}
