import { defaultLimits, maxOriginsPerMutation } from '../../protocol/index.ts';
import { defaultHttpLimits } from '../../server/http/options.ts';
import { registerClientGroup } from '../../engine/transports/fetch-json.ts';
import { Crash } from '../scheduler.ts';
import { rawFetch } from '../network.ts';
import { apiState, simApi } from '../sim-api.ts';
import { INTRUDER_FIELD } from '../wide-ops.ts';
import type { OpEvent } from '../schedule.ts';
import type { SimClient, World } from '../world-types.ts';

/**
 * Hostile inputs at the HTTP boundary (wide.boundaryRate): raw request bodies, with the group's
 * real token, that no engine would send. Each is written as JSON text, so that numbers JSON.parse
 * turns into Infinity (1e999), ids past 2^53, negative and fractional ids, NUL bytes in keys, and
 * values nested past the depth limit reach the server as a browser's bytes would.
 *
 * What must happen, and how the checkers tell it from a lost write:
 * - a malformed request (bad id, bad cookie, a body that is not an object, too many origins) is a
 *   400 and writes nothing;
 * - a well-formed request with invalid mutations records each as failed (an error in the log)
 *   under a client id no engine uses: the intruder-refused checker fails if one of them carrying
 *   INTRUDER_FIELD was applied;
 * nothing here is ever queued by an engine, so no-lost-write does not look for it.
 * With wide.boundaryAbuse, a 'request' op also knocks on every door the wrong way (abuseDoors).
 */
export const boundaryVariants = ['request', 'mutations'] as const;

const counters = new WeakMap<World, number>();

export async function hostileBoundary(world: World, c: SimClient, e: OpEvent): Promise<void> {
  const engine = c.engine!;
  const group = engine.clientGroupID;
  const token = apiState(world).kept.get(group);
  if (!token || token.startsWith('proposed:')) return world.sched.record(c.name, 'intrude-skipped', 'boundary: not registered yet');
  const n = (counters.get(world) ?? 0) + 1;
  counters.set(world, n);
  // A client id of the group that no engine uses, fresh per event: its ids start at 1.
  const clientID = `${engine.clientID}-boundary-${n}`;
  const f = rawFetch(world, c);
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const marked = JSON.stringify({ [INTRUDER_FIELD]: `${c.name} boundary` }).slice(1, -1);
  const envelope = (mutations: string) => `{"pushVersion":1,"clientGroupID":${JSON.stringify(group)},"profileID":${JSON.stringify(group)},"schemaVersion":"1","mutations":[${mutations}]}`;
  const mutation = (id: string, name: string, args: string, timestamp = String(world.sched.now)) => `{"clientID":${JSON.stringify(clientID)},"id":${id},"name":${JSON.stringify(name)},"args":${args},"timestamp":${timestamp}}`;
  const upsert = (data: string) => `{"type":"comment","id":${JSON.stringify(e.id)},"data":{${marked},${data}}}`;
  const send = async (what: string, path: string, body: string) => {
    try {
      const res = await f(`http://sim${path}`, { method: 'POST', headers, body });
      world.sched.record(c.name, 'intrude-answer', `boundary ${what} ${res.status}`);
    } catch (err) {
      if (err instanceof Crash) throw err;
      if (!(err instanceof TypeError)) throw err;
      world.sched.record(c.name, 'intrude-lost', `boundary ${what}: ${err.message.slice(0, 80)}`);
    }
  };
  world.countFault('intrude-boundary');
  world.sched.record(c.name, 'intrude', `boundary ${clientID}`);
  const push = '/api/replicache/push';
  const pull = '/api/replicache/pull';
  if (e.boundary === 'request') {
    // Whole requests the protocol refuses (400, nothing written).
    const ok = (id: string) => envelope(mutation(id, 'upsert', upsert('"body":"x"')));
    await send('id-negative', push, ok('-1'));
    await send('id-infinite', push, ok('1e999'));
    await send('id-unsafe', push, ok('9007199254740993'));
    await send('id-fraction', push, ok('1.5'));
    await send('not-object', push, '[1,2]');
    await send('not-json', push, '{"pushVersion":1,');
    const origins = Array.from({ length: 9 }, (_, i) => `{"clientID":${JSON.stringify(`${clientID}-o${i}`)},"id":1}`).join(',');
    await send('origins', push, envelope(mutation('1', 'upsert', upsert('"body":"x"')).replace(/}$/, `,"origins":[${origins}]}`)));
    const pullOf = (cookie: string) => `{"pullVersion":1,"clientGroupID":${JSON.stringify(group)},"profileID":${JSON.stringify(group)},"schemaVersion":"1","cookie":${cookie}}`;
    await send('cookie-negative', pull, pullOf('-5'));
    await send('cookie-infinite', pull, pullOf('{"order":1e999,"epoch":"e"}'));
    await send('cookie-nul-epoch', pull, pullOf('{"order":1,"epoch":"e\\u0000"}'));
    if (world.config.wide?.boundaryAbuse) {
      // The client's own cookie, for a pull that forges its fingerprint (a wiped store has none).
      const meta = await engine.store.readMeta().catch(() => undefined);
      const cookie = meta && meta.cookie !== null && meta.epoch !== null && meta.fp !== null ? { order: meta.cookie, epoch: meta.epoch, fp: meta.fp } : undefined;
      await abuseDoors(world, c, { group, token, clientID, ok: ok('1'), pullOf, envelope, mutation, upsert, cookie });
    }
    if (world.config.wide?.boundaryStrangers) await strangerDoors(world, c, { clientID, token, envelope, upsert, pullOf });
    return;
  }
  // One well-formed push of mutations the server must record as failed (ids 1..n, in order).
  const deep = '['.repeat(defaultLimits.maxDepth + 2) + ']'.repeat(defaultLimits.maxDepth + 2);
  const bad = [
    mutation('1', 'upsert', upsert('"n":1e999')),
    mutation('2', 'upsert', upsert(`"deep":${deep}`)),
    mutation('3', 'upsert', upsert('"nul\\u0000key":1')),
    mutation('4', 'upsert', upsert('"s":"nul \\u0000 inside"')),
    mutation('5', 'upsert', upsert('"body":"x"'), '1e999'),
    // Under the args limit, over the document limit: refused when its effect is checked.
    mutation('6', 'upsert', upsert(`"pad":"${'x'.repeat(defaultLimits.maxDocumentBytes + 1_000)}"`)),
    mutation('7', 'upsert', upsert(`"pad":"${'x'.repeat(defaultLimits.maxArgsBytes)}"`)),
    mutation('8', 'increment', `{"type":"comment","id":${JSON.stringify(e.id)},"field":"n","by":1e999}`),
    mutation('9', 'no-such-mutator', '{}'),
  ];
  return send('mutations', push, envelope(bad.join(',')));
}

interface Door {
  group: string;
  token: string;
  clientID: string;
  /** A well-formed push of one mutation under clientID. */
  ok: string;
  pullOf: (cookie: string) => string;
  envelope: (mutations: string) => string;
  mutation: (id: string, name: string, args: string) => string;
  upsert: (data: string) => string;
  /** The client's cookie as its store keeps it, if it has pulled. */
  cookie: { order: number; epoch: string; fp: string } | undefined;
}

/**
 * Statuses a refused request may get besides its own: the rate limit (429), a proxy's injected
 * 502, a draining server or a full poke hub (503); and, for a request that carries the group's
 * token, 401 once a storage loss or a restore has forgotten that token.
 */
const alsoFine = [429, 502, 503];

/**
 * What both kinds of door knocking share: the raw fetch, the headers, and the check of a status
 * (the one it must get, or one that is always fine; 401 for a request with the group's token
 * after a storage loss). Anything else is counted `boundary-unexpected`.
 */
function knocker(world: World, c: SimClient, token: string) {
  const json = { 'content-type': 'application/json' };
  const check = (what: string, status: number, expected: number, withToken: boolean) => {
    world.sched.record(c.name, 'intrude-answer', `boundary ${what} ${status}`);
    if (status === expected || alsoFine.includes(status) || (withToken && status === 401)) return;
    world.countFault('boundary-unexpected');
    world.sched.record(c.name, 'intrude-unexpected', `boundary ${what}: ${status}, expected ${expected}`);
  };
  return { f: rawFetch(world, c), json, bearer: { ...json, authorization: `Bearer ${token}` }, check };
}

/**
 * Every door knocked on the wrong way (wide.boundaryAbuse), each with the status it must get; none
 * may write. A status outside what is allowed is counted `boundary-unexpected` (the boundary test
 * asserts there are none) and traced as `intrude-unexpected`. A 5xx of the server's own is also a
 * no-5xx violation (the answers go through the simulated network).
 */
async function abuseDoors(world: World, c: SimClient, d: Door): Promise<void> {
  const { f, json, bearer, check } = knocker(world, c, d.token);
  const send = async (what: string, path: string, headers: Record<string, string>, body: string, expected: number, onBody?: (text: string) => void): Promise<number | undefined> => {
    try {
      const res = await f(`http://sim${path}`, { method: 'POST', headers, body });
      check(what, res.status, expected, 'authorization' in headers && headers.authorization === bearer.authorization);
      onBody?.(await res.text());
      return res.status;
    } catch (err) {
      if (err instanceof Crash) throw err;
      if (!(err instanceof TypeError)) throw err;
      world.sched.record(c.name, 'intrude-lost', `boundary ${what}: ${err.message.slice(0, 80)}`);
      return undefined;
    }
  };
  const push = '/api/replicache/push';
  const pull = '/api/replicache/pull';
  const register = '/api/register';
  const over = 'x'.repeat(defaultHttpLimits.maxBodyBytes + 1);
  // The token: missing, another scheme, unknown.
  await send('no-token', push, json, d.ok, 401);
  await send('basic-auth', push, { ...json, authorization: `Basic ${d.token}` }, d.ok, 401);
  await send('unknown-token', pull, { ...json, authorization: `Bearer ${d.token}x` }, d.pullOf('null'), 401);
  // Another protocol version of pull; more origin clients than a push may name (9 x 8 > 64).
  // The client's cookie with another fingerprint: a state this database never had
  // (ClientStateNotFound, which the protocol answers 200), or a full state below the horizon.
  if (d.cookie) {
    const forged = { ...d.cookie, fp: `${d.cookie.fp.slice(0, -1)}${d.cookie.fp.endsWith('0') ? '1' : '0'}` };
    await send('cookie-forged-fp', pull, bearer, d.pullOf(JSON.stringify(forged)), 200, (text) => {
      if (text.includes('ClientStateNotFound')) world.sched.record(c.name, 'intrude-answer', 'boundary cookie-forged-fp: ClientStateNotFound');
    });
  }
  const version = await send('pull-version', pull, bearer, d.pullOf('null').replace('"pullVersion":1', '"pullVersion":2'), 400);
  const origins = (i: number) => Array.from({ length: maxOriginsPerMutation }, (_, k) => `{"clientID":${JSON.stringify(`${d.clientID}-o${i}-${k}`)},"id":1}`).join(',');
  const many = Array.from({ length: 9 }, (_, i) => d.mutation(String(i + 1), 'upsert', d.upsert('"body":"x"')).replace(/}$/, `,"origins":[${origins(i)}]}`));
  await send('origin-clients', push, bearer, d.envelope(many.join(',')), 400);
  // Bodies over the limit: declared on a server function (refused before Start reads it), and
  // chunked (no length: cut off while streaming).
  await send('server-fn-over', '/_serverFn/push', bearer, over, 413);
  await send('chunked-over', push, { ...bearer, 'transfer-encoding': 'chunked' }, over, 413);
  // Registrations: not JSON, not an object, and the group's token proposed for another group
  // (only while the server knows that token: else the proposal would bind it, a theft).
  await send('register-not-json', register, json, '{"clientGroupID":', 400);
  await send('register-not-object', register, json, '[1]', 400);
  // A mutation without args: the envelope refuses the whole push (args is required), 400.
  const bare = `{"clientID":${JSON.stringify(`${d.clientID}-bare`)},"id":1,"name":"upsert","timestamp":1}`;
  await send('no-args', push, bearer, d.envelope(bare), 400);
  if (version === 400) await send('register-token-taken', register, json, JSON.stringify({ clientGroupID: `${d.clientID}-group`, token: d.token }), 409);
  await abusePokes(world, c, d, check);
}

/** The poke stream's door (the app opens it without the network's fates): no token, an unknown one, and a stream left at once. */
async function abusePokes(world: World, c: SimClient, d: Door, check: (what: string, status: number, expected: number, withToken: boolean) => void): Promise<void> {
  if (!world.server.up) return world.sched.record(c.name, 'intrude-skipped', 'boundary pokes: server down');
  const api = await simApi(world);
  const leave = new AbortController();
  const open = async (what: string, query: string, expected: number, withToken: boolean) => {
    const request = new Request(`http://sim/api/poke${query}`);
    // As poke-stream.ts: the client's own signal (undici's derived one may never abort after a GC).
    Object.defineProperty(request, 'signal', { value: leave.signal });
    const res = await api.poke(request);
    check(what, res.status, expected, withToken);
    // A client that leaves at once: the hub must forget its stream.
    await res.body?.cancel();
  };
  await open('poke-no-token', '', 401, false);
  await open('poke-unknown-token', `?token=${encodeURIComponent(`${d.token}x`)}`, 401, false);
  await open('poke-left', `?token=${encodeURIComponent(d.token)}`, 200, true);
  leave.abort();
  // A client that left before the answer (its signal already aborted): the hub closes the stream at once.
  await open('poke-gone', `?token=${encodeURIComponent(d.token)}`, 200, true);
}

/**
 * The doors a stranger knocks on (wide.boundaryStrangers), each with the status it must get (a
 * status outside it is counted `boundary-unexpected`, as in abuseDoors):
 * - a registration without a token, as the public `registerClientGroup` sends it: the server
 *   issues one (200); the same group registering again without one is refused (409), since the
 *   server cannot tell it from another party;
 * - a push, with the group's token, naming a client of another group that the server knows (403);
 * - a push whose declared length is over `maxBodyBytes`, refused unread (413), and a POST without
 *   a body (400);
 * - the token just issued, proposed for another group (409: it is taken);
 * - a pull with a bootstrap cookie of another database (200 ClientStateNotFound), and the poke
 *   stream opened without any token (401).
 * None may write: the push carries the intruder mark.
 */
async function strangerDoors(world: World, c: SimClient, d: Pick<Door, 'clientID' | 'token' | 'envelope' | 'upsert' | 'pullOf'>): Promise<void> {
  const { f, json, bearer, check } = knocker(world, c, d.token);
  const send = async (what: string, path: string, headers: Record<string, string>, body: string, expected: number): Promise<string | undefined> => {
    try {
      const res = await f(`http://sim${path}`, { method: 'POST', headers, body });
      check(what, res.status, expected, headers.authorization === bearer.authorization);
      return res.status === 200 ? await res.text() : undefined;
    } catch (err) {
      if (err instanceof Crash) throw err;
      if (!(err instanceof TypeError)) throw err;
      world.sched.record(c.name, 'intrude-lost', `boundary ${what}: ${err.message.slice(0, 80)}`);
      return undefined;
    }
  };
  // Registrations without a token go through the public registerClientGroup, as an app that lets
  // the server issue tokens sends them (the same request as a raw one: the same fate).
  const register = async (what: string, expected: number): Promise<string | undefined> => {
    let status: number | undefined;
    const seen = (async (url: string, init?: RequestInit) => {
      const res = await f(url, init);
      status = res.status;
      return res;
    }) as typeof fetch;
    try {
      const token = await registerClientGroup('http://sim', `${d.clientID}-issued`, seen);
      check(what, 200, expected, false);
      return token;
    } catch (err) {
      if (err instanceof Crash) throw err;
      if (status !== undefined) check(what, status, expected, false);
      else world.sched.record(c.name, 'intrude-lost', `boundary ${what}: ${((err as Error).cause as Error | undefined ?? (err as Error)).message.slice(0, 80)}`);
      return undefined;
    }
  };
  const token = await register('register-issued', 200);
  await register('register-issued-again', 409);
  // The token just issued, proposed for yet another group: the server knows it, so 409 (it is taken).
  if (token) await send('register-issued-token-taken', '/api/register', json, JSON.stringify({ clientGroupID: `${d.clientID}-other`, token }), 409);
  const other = await knownClientOfAnotherGroup(world, c);
  if (other) {
    const m = `{"clientID":${JSON.stringify(other)},"id":1,"name":"upsert","args":${d.upsert('"body":"x"')},"timestamp":${world.sched.now}}`;
    await send('foreign-client', '/api/replicache/push', bearer, d.envelope(m), 403);
  } else world.sched.record(c.name, 'intrude-skipped', 'boundary foreign-client: no other group known');
  await send('declared-over', '/api/replicache/push', bearer, 'x'.repeat(defaultHttpLimits.maxBodyBytes + 1), 413);
  // A bootstrap cookie of another database (epoch): ClientStateNotFound, which the protocol answers 200.
  await send('staged-cookie-foreign', '/api/replicache/pull', bearer, d.pullOf('{"order":1,"epoch":"e-elsewhere","stage":"comment/c0"}'), 200);
  // A POST without any body (the simulated network always carries one): straight to the API, as the poke doors.
  if (!world.server.up) return world.sched.record(c.name, 'intrude-skipped', 'boundary no-body: server down');
  const api = await simApi(world);
  check('no-body', (await api.push(new Request('http://sim/api/replicache/push', { method: 'POST', headers: bearer }))).status, 400, true);
  // The poke stream opened with no token at all (no header, no query): 401.
  const poke = await api.poke(new Request('http://sim/api/poke'));
  check('poke-stranger', poke.status, 401, false);
  await poke.body?.cancel();
}

/**
 * A client id of another group that the server already has (its store holds an acknowledged
 * write): an unknown one would be a guess of a random id, which the server cannot tell from a new
 * client of this group.
 */
async function knownClientOfAnotherGroup(world: World, c: SimClient): Promise<string | undefined> {
  const group = c.engine!.clientGroupID;
  for (const x of world.clients) {
    const engine = x.engine;
    if (x === c || !engine || engine.clientGroupID === group) continue;
    // A wipe of that client may drop its store meanwhile: then look further.
    const known = await engine.store.readMeta().then((m) => m?.lastMutationID ?? 0, () => 0);
    if (known >= 1 && x.engine === engine) return engine.clientID;
  }
  return undefined;
}
