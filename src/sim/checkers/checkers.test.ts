/** Each checker, fed a state broken in one precise way, names that violation; fed a sound state, says nothing. */
import { describe, expect, it } from 'vitest';
import type { EntityData } from '../../protocol/index.ts';
import type { LogEntry } from '../../server/types.ts';
import { checkers, type FinalState } from './index.ts';
import { firstDifference } from './util.ts';
import type { Mutation } from '../../protocol/index.ts';
import type { PersistentSyncEngine } from '../../engine/index.ts';
import type { FlushedWrite } from '../../engine/deferred-writes.ts';
import { acknowledgeOnFlush, watchFlushes } from '../deferred-writes.ts';
import type { SimClient, World } from '../world-types.ts';

const put = (key: string, value: EntityData) => ({ op: 'put' as const, key, value });
const entry = (version: number, clientID: string, mutationID: number, name: string, args: unknown, effects: LogEntry['effects'], error: string | null = null): LogEntry =>
  ({ version, clientID, mutationID, name, args, effects, error, createdAt: 0 });

/** A sound final state: two clients, three mutations, everyone agrees. */
function sound(): FinalState {
  const log = [
    entry(1, 'A', 1, 'upsert', { type: 'comment', id: 'x', data: { b: 1 } }, [put('comment/x', { b: 1 })]),
    entry(2, 'B', 1, 'increment', { type: 'tally', id: 't', field: 'n', by: 2 }, [put('tally/t', { n: 2 })]),
    entry(3, 'A', 2, 'increment', { type: 'tally', id: 't', field: 'n', by: 3 }, [put('tally/t', { n: 5 })]),
  ];
  const entities = new Map<string, EntityData>([['comment/x', { b: 1 }], ['tally/t', { n: 5 }]]);
  return {
    t: 1000,
    server: { entities, log, clients: [], version: 3 },
    clients: [
      { lane: 'c0', clientID: 'A', visible: new Map(entities), pending: [], cookie: 3, lastMutationID: 2 },
      { lane: 'c1', clientID: 'B', visible: new Map(entities), pending: [], cookie: 3, lastMutationID: 1 },
    ],
    queued: [
      { lane: 'c0', clientID: 'A', mutationID: 1, name: 'upsert', args: {}, t: 1 },
      { lane: 'c1', clientID: 'B', mutationID: 1, name: 'increment', args: {}, t: 2, intent: { op: 'increment', type: 'tally', id: 't', by: 2 } },
      { lane: 'c0', clientID: 'A', mutationID: 2, name: 'increment', args: {}, t: 3, intent: { op: 'increment', type: 'tally', id: 't', by: 3 } },
    ],
    wipedClientIDs: new Set(),
    observations: [
      { clientID: 'A', lane: 'c0', t: 10, cookie: 1, lastMutationID: 1 },
      { clientID: 'A', lane: 'c0', t: 20, cookie: 3, lastMutationID: 2 },
    ],
    answers: [{ lane: 'c0', label: 'push#1', t: 5, status: 200, injected: false }],
    healed: true,
    healMs: 100,
    healBudgetMs: 1000,
  };
}

async function run(s: FinalState) {
  const out = [];
  for (const check of Object.values(checkers)) out.push(...(await check(s)));
  return out;
}

describe('checkers', () => {
  it('find nothing wrong with a sound state', async () => {
    expect(await run(sound())).toEqual([]);
  });

  it('convergence names the client and key that differ from the server', async () => {
    const s = sound();
    s.clients[1]!.visible.set('comment/x', { b: 9 });
    const v = await checkers.convergence!(s);
    expect(v).toEqual([expect.objectContaining({ checker: 'convergence', lane: 'c1', clientID: 'B', key: 'comment/x', version: 3 })]);
    expect(v[0]!.message).toContain('{"b":9}');
  });

  it('convergence names a server whose entities are not the fold of its log', async () => {
    const s = sound();
    s.server.entities.delete('comment/x');
    for (const c of s.clients) c.visible.delete('comment/x');
    expect(await checkers.convergence!(s)).toEqual([expect.objectContaining({ checker: 'convergence', lane: 'server', key: 'comment/x' })]);
  });

  it('exactly-once names a mutation logged twice and a repeated version', async () => {
    const s = sound();
    s.server.log.push(entry(3, 'A', 2, 'increment', { type: 'tally', id: 't', field: 'n', by: 3 }, [put('tally/t', { n: 8 })]));
    const v = await checkers['exactly-once']!(s);
    expect(v.map((x) => x.message)).toEqual(expect.arrayContaining([
      expect.stringContaining('mutation 2 of A is in the log twice, at versions 3 and 3'),
      expect.stringContaining('log entry 4 has version 3'),
    ]));
  });

  it('exactly-once names a gap in a client\'s mutation ids', async () => {
    const s = sound();
    s.server.log[2]!.mutationID = 3;
    expect(await checkers['exactly-once']!(s)).toEqual([expect.objectContaining({ clientID: 'A', message: expect.stringContaining('expected 2, found 3') })]);
  });

  it('no-lost-write names a queued mutation missing from the log, but forgives a wiped client', async () => {
    const s = sound();
    s.queued.push({ lane: 'c1', clientID: 'B', mutationID: 2, name: 'upsert', args: {}, t: 50 });
    expect(await checkers['no-lost-write']!(s)).toEqual([expect.objectContaining({ checker: 'no-lost-write', lane: 'c1', clientID: 'B' })]);
    s.wipedClientIDs.add('B');
    expect(await checkers['no-lost-write']!(s)).toEqual([]);
  });

  it('per-client-order names a client whose mutations were applied out of order', async () => {
    const s = sound();
    s.server.log[0]!.mutationID = 2;
    s.server.log[2]!.mutationID = 1;
    expect(await checkers['per-client-order']!(s)).toEqual([expect.objectContaining({ clientID: 'A', version: 3 })]);
  });

  it('monotonic names a cookie and a last mutation id that went back', async () => {
    const s = sound();
    s.observations.push({ clientID: 'A', lane: 'c0', t: 30, cookie: 2, lastMutationID: 1 });
    const v = await checkers.monotonic!(s);
    expect(v.map((x) => x.message)).toEqual([expect.stringContaining('cookie went back from 3 to 2'), expect.stringContaining('last mutation id went back from 2 to 1')]);
    expect(v[0]!.t).toBe(30);
  });

  it('liveness names the clients still behind after the bound', async () => {
    const s = sound();
    s.healed = false;
    s.clients[0]!.cookie = 1;
    expect(await checkers.liveness!(s)).toEqual([expect.objectContaining({ checker: 'liveness', lane: 'c0', message: expect.stringContaining('1 clients behind') })]);
  });

  it('log-replay names a logged effect the mutator would not produce', async () => {
    const s = sound();
    s.server.log[0]!.effects = [];
    expect(await checkers['log-replay']!(s)).toEqual([expect.objectContaining({ checker: 'log-replay', version: 1, clientID: 'A' })]);
  });

  it('counters names a tally that lost an increment', async () => {
    const s = sound();
    s.server.entities.set('tally/t', { n: 3 });
    expect(await checkers.counters!(s)).toEqual([expect.objectContaining({ checker: 'counters', key: 'tally/t', message: expect.stringContaining('add up to 5') })]);
  });

  // Swarm seed 177 (scenarios/regressions/counters-increment-stored-by-a-crashed-mutate.json): a
  // client crashed inside mutate() after the increment was stored; it synced after the restart.
  it('counters counts a logged increment no acknowledged write claims, and still names a doubled one', async () => {
    const s = sound();
    s.server.log.push(entry(4, 'C', 1, 'increment', { type: 'tally', id: 't', field: 'n', by: 4 }, [put('tally/t', { n: 9 })]));
    s.server.entities.set('tally/t', { n: 9 });
    expect(await checkers.counters!(s)).toEqual([]);
    s.server.entities.set('tally/t', { n: 13 });
    expect(await checkers.counters!(s)).toEqual([expect.objectContaining({ checker: 'counters', key: 'tally/t', message: expect.stringContaining('add up to 9') })]);
  });

  it('no-5xx names a 500 answer with no fault injected, and forgives an injected one', async () => {
    const s = sound();
    s.answers.push({ lane: 'c1', label: 'pull#4', t: 40, status: 500, injected: true });
    expect(await checkers['no-5xx']!(s)).toEqual([]);
    s.answers.push({ lane: 'c1', label: 'push#5', t: 50, status: 500, injected: false, error: 'server-error: boom' });
    expect(await checkers['no-5xx']!(s)).toEqual([expect.objectContaining({ checker: 'no-5xx', lane: 'c1', t: 50, message: expect.stringContaining('push#5') })]);
  });

  it('unique-mutation-ids names a client that queued one mutation id twice (e.g. across a restart)', async () => {
    const s = sound();
    s.queued.push({ lane: 'c0', clientID: 'A', mutationID: 2, name: 'upsert', args: {}, t: 60 });
    expect(await checkers['unique-mutation-ids']!(s)).toEqual([expect.objectContaining({ checker: 'unique-mutation-ids', clientID: 'A', message: expect.stringContaining('mutation id 2 twice') })]);
  });

  it('model names an upsert that merged instead of replacing, even when server and clients agree', async () => {
    const s = sound();
    const merged = { b: 2, pinned: true };
    s.server.log[0]!.args = { type: 'comment', id: 'x', data: { b: 1, pinned: true } };
    s.server.log[0]!.effects = [put('comment/x', { b: 1, pinned: true })];
    s.server.log.push(entry(4, 'B', 2, 'upsert', { type: 'comment', id: 'x', data: { b: 2 } }, [put('comment/x', merged)]));
    s.server.entities.set('comment/x', merged);
    for (const c of s.clients) c.visible.set('comment/x', merged);
    expect(await checkers.convergence!(s)).toEqual([]);
    const v = await checkers.model!(s);
    expect(v[0]).toEqual(expect.objectContaining({ checker: 'model', version: 4, key: 'comment/x' }));
    expect(v.map((x) => x.message).join('\n')).toContain('server entity comment/x is {"b":2,"pinned":true}, but the log\'s mutations by their specification give {"b":2}');
  });

  it('model names an increment that succeeded on a non-numeric field, and skips failed entries', async () => {
    const s = sound();
    s.server.log.push(entry(4, 'B', 2, 'increment', { type: 'comment', id: 'x', field: 'b', by: 1 }, [], 'increment: not a number'));
    expect(await checkers.model!(s)).toEqual([]);
    s.server.log[0]!.args = { type: 'comment', id: 'x', data: { b: 'text' } };
    s.server.log[0]!.effects = [put('comment/x', { b: 'text' } as never)];
    s.server.log.push(entry(5, 'B', 3, 'increment', { type: 'comment', id: 'x', field: 'b', by: 1 }, [put('comment/x', { b: 1 })]));
    expect((await checkers.model!(s)).map((x) => x.message)).toEqual(expect.arrayContaining([expect.stringContaining('by its specification it fails')]));
  });

  it('intruder-refused names an applied foreign or stale write, except the next id of a client id its owner lost to a server data loss', async () => {
    const intruded = (s: FinalState, clientID: string, mutationID: number) => {
      s.server.log.push(entry(s.server.log.length + 1, clientID, mutationID, 'upsert', { type: 'comment', id: 'y', data: { intruder: 'c1 foreign' } }, [put('comment/y', { intruder: 'c1 foreign' })]));
      return checkers['intruder-refused']!(s);
    };
    // A's id is known to the database (A#1, A#2 precede): a foreign push of it is a defect, wiped or not.
    const known = sound();
    known.wipedClientIDs.add('A');
    expect(await intruded(known, 'A', 1)).toEqual([expect.objectContaining({ checker: 'intruder-refused', clientID: 'A' })]);
    // C's owner lost the id to a storage loss and started over: the new database had no record of it.
    const lost = sound();
    lost.wipedClientIDs.add('C');
    expect(await intruded(lost, 'C', 1)).toEqual([]);
    // The same write with the id not given up, or not its first, stays a violation.
    expect(await intruded(sound(), 'C', 1)).toHaveLength(1);
    const stale = sound();
    stale.wipedClientIDs.add('C');
    expect(await intruded(stale, 'C', 2)).toHaveLength(1);
    // A restored backup knew A up to #2 while A had #3 acknowledged before the restore (swarm seed
    // 78): a stale resend of #3 is A's next write for this database. A known id or a skipped one is not.
    const restored = () => {
      const s = sound();
      s.wipedClientIDs.add('A');
      return s;
    };
    expect(await intruded(restored(), 'A', 3)).toEqual([]);
    expect(await intruded(restored(), 'A', 2)).toHaveLength(1);
    expect(await intruded(restored(), 'A', 5)).toHaveLength(1);
  });
});

describe('firstDifference', () => {
  const m = (...e: [string, EntityData][]) => new Map<string, EntityData>(e);
  it('is undefined for equal states (key order inside a document aside), else the first differing key in order', () => {
    expect(firstDifference(m(['a/1', { x: 1, y: 2 }], ['a/2', { z: [1] }]), m(['a/2', { z: [1] }], ['a/1', { y: 2, x: 1 }]))).toBeUndefined();
    expect(firstDifference(m(['a/1', { x: 1 }], ['a/3', { x: 3 }]), m(['a/1', { x: 1 }], ['a/3', { x: 4 }]))).toBe('a/3');
    // Same size, other keys: the first key either side lacks.
    expect(firstDifference(m(['a/1', { x: 1 }], ['a/3', { x: 3 }]), m(['a/1', { x: 1 }], ['a/2', { x: 3 }]))).toBe('a/2');
    expect(firstDifference(m(['a/1', { x: 1 }]), m(['a/1', { x: 1 }], ['a/0', {}]))).toBe('a/0');
  });
});

describe('checkers, deferred durability (a crash loses the unflushed writes)', () => {
  /** Client A's writes go through the simulator's deferred bookkeeping: acknowledged (queued) only when flushed. */
  function deferredClient() {
    const s = sound();
    s.queued = s.queued.filter((q) => q.clientID !== 'A');
    const world = { queued: s.queued, sched: { now: 0, record: () => {} } } as unknown as World;
    let flushed: (w: FlushedWrite[]) => void = () => {};
    const engine = { durability: 'deferred', onFlushed: (cb: typeof flushed) => void (flushed = cb) } as unknown as PersistentSyncEngine;
    watchFlushes(world, { name: 'c0' } as SimClient, engine);
    const write = (id: number, name: string, flush: boolean) => {
      const m: Mutation = { clientID: 'A', id, name, args: {}, timestamp: 0 };
      acknowledgeOnFlush(m, id, name === 'increment' ? { op: 'increment', type: 'tally', id: 't', by: 3 } : undefined);
      if (flush) flushed([{ requested: m, mutation: m }]);
    };
    return { s, write };
  }

  it('accept the unflushed writes a crash lost, and their ids taken again by the next incarnation', async () => {
    const { s, write } = deferredClient();
    write(1, 'upsert', true);
    write(2, 'upsert', false); // lost in a crash: never acknowledged
    write(3, 'upsert', false);
    write(2, 'increment', true); // the restarted client's write takes id 2 again (the log holds this one)
    write(3, 'increment', false); // never flushed either
    expect(s.queued.filter((q) => q.clientID === 'A').map((q) => `${q.mutationID}:${q.name}`)).toEqual(['1:upsert', '2:increment']);
    expect(await run(s)).toEqual([]);
  });

  it('still fail when a flushed write is lost, or a flushed (pushable) id is taken again', async () => {
    const lost = deferredClient();
    lost.write(1, 'upsert', true);
    lost.write(2, 'increment', true);
    lost.s.server.log = lost.s.server.log.filter((e) => !(e.clientID === 'A' && e.mutationID === 2));
    expect((await run(lost.s)).map((v) => v.checker)).toContain('no-lost-write');

    const reused = deferredClient();
    reused.write(1, 'upsert', true);
    reused.write(2, 'increment', true);
    reused.write(2, 'upsert', true); // a crash must never make a flushed id free again
    expect((await run(reused.s)).map((v) => v.checker)).toContain('unique-mutation-ids');
  });
});
