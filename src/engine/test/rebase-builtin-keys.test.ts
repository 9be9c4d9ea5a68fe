/**
 * A pull that acknowledges every pending mutation, all of them built-in: the keys they may have
 * changed in the visible state come from their args ({type, id}), so the rebase reads no snapshot
 * document and runs no mutator; and still a key a pending mutation wrote locally that the server
 * did not (it recorded the mutation failed) goes back to the server's document. With an app
 * mutator pending, the rebase replays as before. Counted at the Db seam.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { uniqueSchema } from '../../../test/support/stores.ts';
import { defineMutator } from '../../protocol/index.ts';
import { ServerDatabase } from '../../server/index.ts';
import { PersistentSyncEngine } from '../index.ts';
import { clock, countingDb, ids, openDbs, switchableTransport } from './world.ts';

let dbs: Awaited<ReturnType<typeof openDbs>>;
beforeAll(async () => {
  dbs = await openDbs();
});
afterAll(async () => dbs.close());

// An app mutator whose key is not in its args: what it writes depends on what it reads.
const mutators = {
  bumpPointed: defineMutator(z.object({ from: z.string() }), async (tx, a) => {
    const p = (await tx.get('ptr', a.from)) as { to: string } | undefined;
    if (!p) return;
    const cur = (await tx.get('doc', p.to)) ?? {};
    tx.put('doc', p.to, { ...cur, bumped: ((cur.bumped as number) ?? 0) + 1 });
  }),
};

/** One pull with the statements it issues written down in `n.log` (cleared first). */
async function loggedPull(a: PersistentSyncEngine, n: { on: boolean; log: string[] }): Promise<boolean> {
  n.log.length = 0;
  n.on = true;
  try {
    return await a.pull();
  } finally {
    n.on = false;
  }
}
const snapshotReads = (log: string[]) => log.filter((s) => /^SELECT (key, )?data FROM "[^"]+"\.snapshot WHERE key/.test(s));

describe('a pull that acknowledges every pending built-in mutation', () => {
  it('reads no snapshot document, and puts back what the server did not write', async () => {
    // The server refuses documents over 100 bytes; the client's limit is the default.
    const server = await ServerDatabase.open(dbs.serverDb, { clock, ids, schema: uniqueSchema('bk'), mutators, limits: { maxDocumentBytes: 100 } });
    let offline = false;
    const { db, n } = countingDb(dbs.clientDb);
    const a = await PersistentSyncEngine.open({ db, schema: uniqueSchema('bk'), transport: switchableTransport(() => server, { online: () => !offline }), ids, clock, mutators });
    await a.upsert('doc', 'big', { v: 1 });
    await a.increment('doc', 'n', 'count', 1);
    await a.sync();
    offline = true;
    await a.upsert('doc', 'big', { v: 2, text: 'x'.repeat(200) }); // the server will record it failed
    for (let i = 0; i < 5; i++) await a.increment('doc', 'n', 'count', 1);
    await a.delete('doc', 'gone');
    await a.upsert('doc', 'new', { v: 1 });
    expect((await a.get('doc', 'big'))?.v).toBe(2);
    offline = false;
    await a.push();
    expect(await loggedPull(a, n)).toBe(true);
    expect(snapshotReads(n.log), n.log.join('\n')).toEqual([]);
    expect((await a.getState()).pendingCount).toBe(0);
    expect(await a.visibleEntities()).toEqual(await server.readEntities());
    expect(await a.get('doc', 'big')).toEqual({ v: 1 });
    expect(await a.get('doc', 'n')).toEqual({ count: 6 });
    await a.close();
  });

  it('replays as before when an app mutator is pending, and ends equal to the server', async () => {
    const server = await ServerDatabase.open(dbs.serverDb, { clock, ids, schema: uniqueSchema('bk'), mutators });
    let offline = false;
    const { db, n } = countingDb(dbs.clientDb);
    const a = await PersistentSyncEngine.open({ db, schema: uniqueSchema('bk'), transport: switchableTransport(() => server, { online: () => !offline }), ids, clock, mutators });
    const b = await PersistentSyncEngine.open({ db: dbs.clientDb, schema: uniqueSchema('bk'), transport: switchableTransport(() => server), ids, clock, mutators });
    await a.upsert('ptr', 'p', { to: 'one' });
    await a.upsert('doc', 'one', { v: 1 });
    await a.upsert('doc', 'two', { v: 2 });
    await a.sync();
    offline = true;
    await a.mutate('bumpPointed', { from: 'p' });
    await a.increment('doc', 'two', 'v', 1);
    expect(await a.get('doc', 'one')).toEqual({ v: 1, bumped: 1 });
    // Meanwhile the pointer moves on the server: there the mutation bumps 'two', not 'one'.
    await b.sync();
    await b.upsert('ptr', 'p', { to: 'two' });
    await b.sync();
    offline = false;
    await a.push();
    expect(await loggedPull(a, n)).toBe(true);
    expect(snapshotReads(n.log).length).toBeGreaterThan(0);
    expect(await a.visibleEntities()).toEqual(await server.readEntities());
    expect(await a.get('doc', 'one')).toEqual({ v: 1 });
    expect(await a.get('doc', 'two')).toEqual({ v: 3, bumped: 1 });
    await Promise.all([a.close(), b.close()]);
  });
});
