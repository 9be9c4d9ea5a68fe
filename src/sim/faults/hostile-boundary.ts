import { defaultLimits } from '../../protocol/index.ts';
import { Crash } from '../scheduler.ts';
import { rawFetch } from '../network.ts';
import { apiState } from '../sim-api.ts';
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
    return send('cookie-nul-epoch', pull, pullOf('{"order":1,"epoch":"e\\u0000"}'));
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
