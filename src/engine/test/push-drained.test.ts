/**
 * A push skips its pending read while nothing can have been queued since the last one found
 * nothing (no local write, same resend point, same client id): polling syncs are most syncs.
 * A write that lands during the read, a new engine instance over the same store (a restart), and
 * a lowered resend point all read again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mutation } from '../../protocol/index.ts';
import { uniqueSchema } from '../../../test/support/stores.ts';
import { openClient, openDbs, openServer, switchableTransport } from './world.ts';

let dbs: Awaited<ReturnType<typeof openDbs>>;
beforeAll(async () => {
  dbs = await openDbs();
});
afterAll(async () => dbs.close());

/** Counts push's pending reads; `during` runs once inside the next one, before it returns. */
function spyReads(engine: { store: { pendingMutations: (...a: never[]) => Promise<Mutation[]> } }) {
  const spy = { reads: 0, during: undefined as (() => Promise<void>) | undefined };
  const store = engine.store as unknown as { pendingMutations: (...a: unknown[]) => Promise<Mutation[]> };
  const original = store.pendingMutations.bind(store);
  store.pendingMutations = async (...a: unknown[]) => {
    // Only push's read (the pull's rebase reads pending rows inside its own transaction).
    if (a[1] !== undefined) return original(...a);
    spy.reads++;
    const r = await original(...a);
    const f = spy.during;
    spy.during = undefined;
    await f?.();
    return r;
  };
  return spy;
}

describe('push without a pending read when nothing was written', () => {
  it('reads once after a start and after each write, never on an idle sync, and again when a write raced the read', async () => {
    const server = await openServer(dbs.serverDb);
    const transport = switchableTransport(() => server);
    const schema = uniqueSchema('drained');
    const a = await openClient(dbs.clientDb, transport, { schema });
    const spy = spyReads(a);
    await a.sync();
    expect(spy.reads).toBe(1); // a new instance starts unsure
    await a.sync();
    await a.sync();
    expect(spy.reads).toBe(1);
    await a.upsert('doc', 'x', { n: 1 });
    await a.sync();
    // One read found it, the push sent all of it: the loop's next push knows there is nothing.
    expect(spy.reads).toBe(2);
    expect((await server.readEntities()).get('doc/x')).toEqual({ n: 1 });
    // A write that lands while a push reads (and finds nothing) is not forgotten.
    await a.upsert('doc', 'y', { n: 2 });
    await a.sync();
    spy.during = async () => {
      await a.upsert('doc', 'z', { n: 3 });
    };
    const before = spy.reads;
    // Force a read: a lowered resend point (what a full pull after a restore does) reads again.
    (a as unknown as { pushedUpTo: number }).pushedUpTo = 0;
    expect(await a.push()).toBe(0); // it found nothing: z came after the read began
    expect(spy.reads).toBe(before + 1);
    await a.sync();
    expect((await server.readEntities()).get('doc/z')).toEqual({ n: 3 });
    await a.close();
    // A restart over the same store reads again.
    const b = await openClient(dbs.clientDb, transport, { schema });
    const spyB = spyReads(b);
    await b.sync();
    expect(spyB.reads).toBe(1);
    await b.close();
  });
});
