import { TransportError, type PullRequest, type PushRequest } from '../protocol/index.ts';
import type { Transport } from '../seams/index.ts';
import { fetchTransport } from '../engine/transports/fetch-json.ts';
import { GroupToken, confirmedToken, registerBody } from '../engine/transports/group-token.ts';
import { Crash } from './scheduler.ts';
import { exceptionViolation } from './findings.ts';
import { isOffline } from './faults/offline.ts';
import { isPartitioned } from './faults/partition.ts';
import { drop, duplicate, latency, lostAck } from './faults/network-faults.ts';
import { httpFate, injectedErrorAnswer, truncate } from './faults/http-faults.ts';
import { keepPage, rewritePullAnswer, staleOf } from './faults/proxy-rewrite.ts';
import { apiState, simApi } from './sim-api.ts';
import { tokenOf } from '../server/http/api.ts';
import { moveToNewGroup } from './identity.ts';
import { serverFnDoor, usesServerFnDoor } from './transport-server-fn.ts';
import type { SimClient, World } from './world-types.ts';

const BASE = 'http://sim';
type Kind = 'push' | 'pull' | 'register';
interface Answer {
  status: number;
  text: string;
  /** The answer's Retry-After header (429, 503), passed on to the client as HTTP does. */
  retryAfter?: string;
}

/**
 * The simulated network is the clients' Transport: the production fetch transport, whose `fetch`
 * carries each request over the simulated network to the app's SyncApi (token auth, body limits,
 * rate limits, JSON). A request is delivered to the server by a task of the server's (so a client
 * crash does not stop a request already on the wire, and a server crash kills it), and the client
 * waits for the response through the scheduler. The group's token comes from the production
 * GroupToken (one registration in flight, proposing a kept token so that a retry is idempotent,
 * backoff after a failure, a 401 registers again once, a 409 is a lost token: the client moves to
 * a new group once), kept in the world's `kept` map as a browser keeps it in localStorage.
 */
export function simTransport(world: World, c: SimClient): Transport & { token(clientGroupID: string): Promise<string>; refresh(clientGroupID: string): Promise<void> } {
  const f = simFetch(world, c);
  // One engine uses this transport: its requests name its client group, and it keeps one token.
  let keeper: GroupToken | undefined;
  const keeperFor = (group: string) => (keeper ??= groupToken(world, c, group, f));
  const inner = usesServerFnDoor(world, c) ? serverFnDoor(f, BASE, () => keeper!.get()) : fetchTransport({ baseURL: BASE, token: () => keeper!.get(), fetch: f });
  return {
    push: (req: PushRequest) => keeperFor(req.clientGroupID).wrap(inner).push(req),
    pull: (req: PullRequest) => keeperFor(req.clientGroupID).wrap(inner).pull(req),
    // The production page asked ahead (fetchTransport's, through GroupToken.wrap); the server-fn door has none.
    ...(inner.pullAhead ? { pullAhead: (req: PullRequest) => keeperFor(req.clientGroupID).wrap(inner).pullAhead!(req) } : {}),
    // The poke stream's token: the one the group's keeper stored (localStorage). The stream does
    // not register itself: waiting on the loop's registration in flight would be a wait the
    // scheduler cannot see; before the first registration the stream just tries again later.
    token: async (group: string) => {
      const kept = apiState(world).kept.get(group);
      if (!kept || kept.startsWith('proposed:')) throw new Error('no token yet (not registered)');
      return kept;
    },
    // GroupToken.refresh: the app registers again after ClientStateNotFound (as the demo app does).
    refresh: (group: string) => keeperFor(group).refresh(),
  };
}

/**
 * Whether the client holds a confirmed token for its group. Heal's quiescence needs it: a client
 * whose token was lost is caught up on paper while its registration is still on the way, and its
 * 409 then moves it to a new, empty group after the checks began (fast-check schedule: an
 * increment, a compaction, a token loss at the heal).
 */
export function holdsGroupToken(world: World, group: string): boolean {
  const kept = apiState(world).kept;
  return confirmedToken({ getItem: (k: string) => kept.get(k) ?? null }, group) !== undefined;
}

/** How long a joiner waits for a registration in flight (virtual ms): the network settles every request sooner, so only a lost task reaches it. */
const joinWaitMs = 10 * 60_000;

function groupToken(world: World, c: SimClient, group: string, f: typeof fetch): GroupToken {
  const kept = apiState(world).kept;
  // The key is the group itself, so that a token-loss fault can clear it.
  const storage = { getItem: (k: string) => kept.get(k) ?? null, setItem: (k: string, v: string) => void kept.set(k, v), removeItem: (k: string) => void kept.delete(k) };
  const idRng = c.rng.fork(`token-id-${c.incarnation}-${c.generation}`);
  const keeper = new GroupToken({
    clientGroupID: group,
    key: group,
    storage,
    // The client's own (possibly skewed) clock; only differences of it matter here.
    clock: { now: () => world.sched.now + c.clockOffsetMs },
    random: c.rng.fork(`token-${c.incarnation}-${c.generation}`),
    // Proposed tokens: seeded, and unique across groups. The proposal is kept (in `kept`, like
    // localStorage) before it is sent, so a restarted client proposes the same one again.
    ids: { newId: (p) => `${p}-${group}-${hex32(idRng)}` },
    // A registration in flight is another task's flow: its joiners wait on a future the scheduler sees (settled by that flow).
    join: <T>(inFlight: Promise<T>) => {
      const settled = world.sched.future<T>();
      inFlight.then((v) => settled.resolve(v), (e: Error) => settled.reject(e));
      return world.sched.waitFor(settled, joinWaitMs, () => new TransportError('register: no answer to the registration in flight'));
    },
    register: async (g, token) => {
      const res = await f(`${BASE}/api/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: registerBody(g, token) });
      if (res.status === 200) world.sched.record(c.name, 'registered', g);
      return res;
    },
    // 409: the group is bound to a token this client lost (a token-loss fault; a register whose
    // answer was lost is sent again with the same token and answered 200); only a new client
    // group gets a token. Called once per keeper.
    onLost: () => {
      world.sched.record(c.name, 'token-lost', group);
      const engine = c.engine;
      if (engine?.clientGroupID !== group) return;
      const moving = apiState(world).moving;
      moving.add(c.name);
      world.sched.spawn('sim', `move ${c.name}`, async () => {
        try {
          await moveToNewGroup(world, c, engine);
        } finally {
          moving.delete(c.name);
        }
        // The old engine's loop would otherwise run (and fail) forever: the move replaced it.
        // In a task of its own: stop() waits for the run in progress (the client's loop task) on
        // the Timer seam, and a bare call would park whichever task is running (swarm seed 154).
        if (c.engine !== engine) world.sched.spawn(c.name, 'stop-loop', () => engine.stop());
      });
    },
  });
  return keeper;
}

/** 32 hex digits from a seeded stream. */
function hex32(rng: { next(): number }): string {
  let s = '';
  while (s.length < 32) s += Math.floor(rng.next() * 0x10000).toString(16).padStart(4, '0');
  return s;
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
    // Only 5xx answers are kept: they are all the no-5xx checker reads, and an object for every
    // answer (a pull after each poke, at 1,000 clients) was held for the whole run.
    const answer = (copy: string, a: Answer & { injected?: boolean; error?: string }) => {
      if (a.status >= 500) world.answers.push({ lane: c.name, label: `${label}${copy}`, t: sched.now, status: a.status, injected: a.injected ?? false, ...(a.error ? { error: a.error } : {}) });
    };
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
          a = await serve(world, c, kind, url, wire, headers);
          sched.record('server', `${kind}-done`, `${c.name} ${label}${copy} ${a.status}`);
          // A draining server's 503 is the restart fault's, not a defect.
          const drained = a.status === 503 && a.text.includes('ShuttingDown') && apiState(world).draining;
          answer(copy, { ...a, ...(a.status >= 500 ? { error: a.text.slice(0, 300) } : {}), ...(drained ? { injected: true } : {}) });
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
    } else if (fate.http.rewrite && kind === 'pull' && result.status === 200) {
      // Only a page is rewritten (a 200 can also carry ClientStateNotFound): counted when it was.
      const s = staleOf(c);
      const rewritten = rewritePullAnswer(text, fate.http.rewrite, s.pages[0]);
      if (rewritten !== text) {
        world.countFault('rewritten');
        sched.record(c.name, 'rewritten', `${label} ${fate.http.rewrite}`);
        if (fate.http.rewrite === 'stale-page') s.given++;
        text = rewritten;
      }
    }
    // The page a caching proxy could answer with later (kept only where that fault can happen).
    if (kind === 'pull' && result.status === 200 && (net.rewriteRate ?? 0) > 0 && !result.text.startsWith('{"error"')) keepPage(staleOf(c), result.text);
    return new Response(text, { status: result.status, headers: { 'content-type': 'application/json', ...(result.retryAfter ? { 'retry-after': result.retryAfter } : {}) } });
  }) as typeof fetch;
}

/**
 * One request at the SyncApi, as the app mounts it: the JSON routes, or (for /_serverFn/...) the
 * server functions' door, where start.ts's middleware runs guardServerFn before Start reads the
 * body and the handler checks the token with withToken. The HTTP layer declares the body's length,
 * as fetch does for a string body, unless the sender streamed it (`transfer-encoding: chunked`).
 * The client's address is its lane.
 */
async function serve(world: World, c: SimClient, kind: Kind, url: string, wire: string, headers: Headers): Promise<Answer> {
  const api = await simApi(world);
  const serverFn = url.includes('/_serverFn/');
  const path = serverFn ? new URL(url).pathname : kind === 'register' ? '/api/register' : `/api/replicache/${kind}`;
  const h = new Headers(headers);
  if (!h.has('transfer-encoding')) h.set('content-length', String(Buffer.byteLength(wire)));
  const request = new Request(`${BASE}${path}`, { method: 'POST', headers: h, body: wire });
  Object.defineProperty(request, 'ip', { value: c.name });
  if (serverFn) {
    const refused = await api.guardServerFn(request);
    if (refused) return answerOf(refused);
    let body: unknown;
    try {
      body = JSON.parse(wire);
    } catch {
      return { status: 400, text: JSON.stringify({ error: 'BadRequest', message: 'request body is not valid JSON' }) };
    }
    const r = await api.withToken(tokenOf(request), body, (b) => (kind === 'push' ? api.server.handlePush(b) : api.server.handlePull(b)));
    return { status: r.status, text: JSON.stringify(r.body) };
  }
  const res = kind === 'push' ? await api.push(request) : kind === 'pull' ? await api.pull(request) : await api.register(request);
  return answerOf(res);
}

/** What the client gets of a Response: status, body and Retry-After. */
async function answerOf(res: Response): Promise<Answer> {
  const retryAfter = res.headers.get('retry-after');
  return { status: res.status, text: await res.text(), ...(retryAfter ? { retryAfter } : {}) };
}

/** The raw fetch of a client over the simulated network (a misbehaving client's requests). */
export function rawFetch(world: World, c: SimClient): typeof fetch {
  return simFetch(world, c);
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
