import { MutationRejectedError } from '../engine/index.ts';
import { defaultLimits, ProtocolError, TransportError, type PushRequest } from '../protocol/index.ts';
import { Crash } from './scheduler.ts';
import { rawFetch, simTransport } from './network.ts';
import { apiState } from './sim-api.ts';
import { defaultHttpLimits } from '../server/http/options.ts';
import type { OpEvent } from './schedule.ts';
import { hostileBoundary } from './faults/hostile-boundary.ts';
import type { SimClient, World } from './world-types.ts';

/** Whether an op needs the wide workload's runner (run.ts hands it over). */
export function isWideOp(e: OpEvent): boolean {
  return e.op === 'hostile' || e.op === 'intrude' || e.pad !== undefined || (e.op === 'increment' && e.field === 'body');
}

/** Marks the intruder's writes: the intruder checker fails if the log holds one. */
export const INTRUDER_FIELD = 'intruder';

/**
 * Runs one wide-workload op. A write the engine refuses (MutationRejectedError: a hostile input,
 * an increment of a string field) is a correct outcome, recorded as such and queuing nothing.
 */
export async function runWideOp(world: World, c: SimClient, e: OpEvent, mutate: (op: () => Promise<{ id: number; name: string; args: unknown; clientID: string }>) => Promise<void>): Promise<void> {
  const engine = c.engine!;
  if (e.op === 'intrude') return intrude(world, c, e);
  try {
    if (e.op === 'hostile') await mutate(() => engine.upsert(e.type, e.id, hostileData(e.hostile!) as never));
    else if (e.op === 'increment') await mutate(() => engine.increment(e.type, e.id, e.field ?? 'n', e.by ?? 1));
    else await mutate(() => engine.upsert(e.type, e.id, { ...(e.data ?? {}), pad: 'x'.repeat(e.pad ?? 0) } as never));
    if (e.op === 'hostile') world.sched.record(c.name, 'hostile-accepted', e.hostile);
  } catch (err) {
    if (!(err instanceof MutationRejectedError)) throw err;
    world.countFault(e.op === 'hostile' ? 'hostile-refused' : 'mutation-refused');
    world.sched.record(c.name, 'refused', `${e.op === 'hostile' ? e.hostile : `${e.op} ${e.type}/${e.id}.${e.field ?? ''}`}: ${err.message.slice(0, 120)}`);
  }
}

/**
 * Inputs the database cannot store or the protocol forbids, and an app's usual mistakes (a Date,
 * a field left undefined, a BigInt: JSON.stringify would turn them into a string, drop them, throw).
 */
function hostileData(kind: NonNullable<OpEvent['hostile']>): Record<string, unknown> {
  if (kind === 'date') return { body: 'x', edited: new Date(0) };
  if (kind === 'undefined') return { body: 'x', lang: undefined };
  if (kind === 'bigint') return { body: 'x', edited: 10n };
  if (kind === 'surrogate') return { body: 'half a pair: \ud800' };
  if (kind === 'nul') return { body: 'nul \u0000 inside' };
  if (kind === 'proto') return JSON.parse('{"body":"x","__proto__":{"polluted":true}}') as Record<string, unknown>;
  return { body: 'x'.repeat(defaultLimits.maxDocumentBytes + 1) };
}

/**
 * A misbehaving client: it bypasses the engine and sends a raw push with its group's token
 * (skipped mutation ids, a stale id with other args, or another group's client id). The server
 * must refuse it without harm to anyone; what it sends is never queued, so no-lost-write does not
 * look for it, and the intruder checker fails if any of it reached the log.
 */
async function intrude(world: World, c: SimClient, e: OpEvent): Promise<void> {
  const engine = c.engine!;
  if (e.how === 'boundary') return hostileBoundary(world, c, e);
  if (e.how !== undefined && !['skip', 'stale', 'foreign'].includes(e.how)) return abuseHttp(world, c, e);
  const meta = (await engine.store.readMeta())!;
  // A client id the server knows (the other client had a write acknowledged): an unknown one would
  // be a guess of a random id in production, and the server cannot tell it from a new client.
  let other: typeof engine | undefined;
  for (const x of world.clients) {
    if (x === c || !x.engine || x.engine.clientGroupID === engine.clientGroupID) continue;
    // The simulator's shortcut to a known id reads the other client's store, which a wipe of that
    // client may drop meanwhile (swarm seed 7: "relation ...c0_g0.meta does not exist"): then skip it.
    const candidate = x.engine;
    const known = await candidate.store.readMeta().then((m) => m?.lastMutationID ?? 0, () => 0);
    if (known >= 1 && x.engine === candidate) {
      other = candidate;
      break;
    }
  }
  let clientID = engine.clientID;
  let id: number;
  // Far ahead: the client's view of its acknowledged id lags the server's, so +1 could be its real next one.
  if (e.how === 'skip') id = meta.lastMutationID + 1_000;
  else if (e.how === 'stale') {
    // Only an id the server already has: resending id 1 before it arrived would be the client's own first write.
    if (meta.lastMutationID < 1) return world.sched.record(c.name, 'intrude-skipped', 'stale: nothing acknowledged yet');
    id = meta.lastMutationID;
  } else {
    if (!other) return world.sched.record(c.name, 'intrude-skipped', 'foreign: no other group');
    clientID = other.clientID;
    id = 1;
  }
  const req: PushRequest = {
    pushVersion: 1, clientGroupID: engine.clientGroupID, profileID: engine.clientGroupID, schemaVersion: '1',
    mutations: [{ clientID, id, name: 'upsert', args: { type: e.type, id: e.id, data: { [INTRUDER_FIELD]: `${c.name} ${e.how}` } }, timestamp: world.sched.now }],
  };
  world.countFault(`intrude-${e.how}`);
  world.sched.record(c.name, 'intrude', `${e.how} ${clientID}#${id}`);
  try {
    const r = await simTransport(world, c).push(req);
    world.sched.record(c.name, 'intrude-answer', JSON.stringify(r).slice(0, 200));
  } catch (err) {
    if (err instanceof Crash) throw err;
    if (!(err instanceof ProtocolError || err instanceof TransportError)) throw err;
    world.sched.record(c.name, 'intrude-refused', err.message.slice(0, 200));
  }
}

/**
 * A misbehaving client at the HTTP layer, with its group's real token: a push over the body limit
 * (413), a server-function push streamed without a Content-Length (411), a burst of pulls past the
 * rate limit (429), a registration proposing a malformed token (400). Each must be refused without
 * harm; the burst spends the token's budget, so its honest engine meets 429s too and must not
 * wedge (it backs off and retries).
 */
async function abuseHttp(world: World, c: SimClient, e: OpEvent): Promise<void> {
  const engine = c.engine!;
  const group = engine.clientGroupID;
  const token = apiState(world).kept.get(group);
  if (e.how !== 'bad-token' && (!token || token.startsWith('proposed:'))) return world.sched.record(c.name, 'intrude-skipped', `${e.how}: not registered yet`);
  const f = rawFetch(world, c);
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const mutation = (data: Record<string, unknown>) => ({ clientID: engine.clientID, id: 1_000_000, name: 'upsert', args: { type: e.type, id: e.id, data: { [INTRUDER_FIELD]: `${c.name} ${e.how}`, ...data } }, timestamp: world.sched.now });
  const push = (data: Record<string, unknown>) => JSON.stringify({ pushVersion: 1, clientGroupID: group, profileID: group, schemaVersion: '1', mutations: [mutation(data)] });
  world.countFault(`intrude-${e.how}`);
  world.sched.record(c.name, 'intrude', e.how!);
  const send = async (url: string, init: RequestInit) => {
    try {
      const res = await f(url, init);
      world.sched.record(c.name, 'intrude-answer', `${e.how} ${res.status}`);
    } catch (err) {
      if (err instanceof Crash) throw err;
      if (!(err instanceof TypeError)) throw err;
      world.sched.record(c.name, 'intrude-lost', `${e.how}: ${err.message.slice(0, 80)}`);
    }
  };
  if (e.how === 'oversize') return send('http://sim/api/replicache/push', { method: 'POST', headers: auth, body: push({ pad: 'x'.repeat(defaultHttpLimits.maxBodyBytes) }) });
  if (e.how === 'no-length') return send('http://sim/_serverFn/push', { method: 'POST', headers: { ...auth, 'transfer-encoding': 'chunked' }, body: push({}) });
  const pushURL = 'http://sim/api/replicache/push';
  const post = (body: string, url = pushURL) => send(url, { method: 'POST', headers: auth, body });
  // Mutations the server must record as failed (under a client id of the group no engine uses, so no honest id is taken).
  if (e.how === 'invalid') {
    const clientID = `${engine.clientID}-intruder-${world.sched.now}`;
    const bad = [{ name: 'nul\u0000name', args: {} }, { name: 'upsert', args: {}, timestamp: null }, { name: 5, args: {} }, { name: 'upsert', args: { type: 'comment', id: e.id, data: { [INTRUDER_FIELD]: 'half \ud800' } } }];
    return post(JSON.stringify({ pushVersion: 1, clientGroupID: group, profileID: group, schemaVersion: '1', mutations: bad.map((m, i) => ({ clientID, id: i + 1, timestamp: world.sched.now, ...m })) }));
  }
  if (e.how === 'version') {
    await post(JSON.stringify({ ...JSON.parse(push({})), pushVersion: 2 }));
    return post(JSON.stringify({ pullVersion: 1, clientGroupID: group, cookie: null, profileID: group, schemaVersion: '0' }), 'http://sim/api/replicache/pull');
  }
  if (e.how === 'gap') {
    const m = mutation({});
    return post(JSON.stringify({ pushVersion: 1, clientGroupID: group, profileID: group, schemaVersion: '1', mutations: [m, { ...m, id: m.id + 2 }] }));
  }
  if (e.how === 'malformed') return post(JSON.stringify({ pushVersion: 1, clientGroupID: group, mutations: 'none' }));
  if (e.how === 'bad-token') return send('http://sim/api/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ clientGroupID: group, token: 'short token' }) });
  // A burst: more pulls at once than the token's bucket holds (when the operator's burst is small enough to try).
  const burst = (world.config.serverProcess?.http?.syncBurst ?? defaultHttpLimits.syncBurst) + 1;
  if (burst > 25) return world.sched.record(c.name, 'intrude-skipped', `burst: the rate limit allows ${burst - 1} at once`);
  const pull = JSON.stringify({ pullVersion: 1, clientGroupID: group, cookie: null, profileID: group, schemaVersion: '1' });
  for (let i = 0; i < burst; i++) world.sched.spawn(c.name, `burst ${i}`, () => send('http://sim/api/replicache/pull', { method: 'POST', headers: auth, body: pull }));
}
