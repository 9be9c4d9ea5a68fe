/**
 * What a pull costs the client database: a rebase reads the snapshot documents its pending
 * mutations name in one statement (it read them one statement per key, twice), it reads the
 * pending queue once, and an answer that changes nothing (the pull that confirms the client is up
 * to date) opens no transaction. Counted at the Db seam; the rebase's result is checked too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueSchema } from '../../../test/support/stores.ts';
import { PersistentSyncEngine } from '../index.ts';
import { clock, countingDb, ids, openClient, openDbs, openServer, switchableTransport } from './world.ts';

let dbs: Awaited<ReturnType<typeof openDbs>>;
beforeAll(async () => {
  dbs = await openDbs();
});
afterAll(async () => dbs.close());

describe('the client database work of a pull', () => {
  it('reads the documents a rebase replays in one statement, the pending queue once, and nothing for an answer that changes nothing', async () => {
    const server = await openServer(dbs.serverDb);
    const { db, n: rec } = countingDb(dbs.clientDb);
    let offline = false;
    const transport = switchableTransport(() => server, { online: () => !offline });
    const a = await PersistentSyncEngine.open({ db, schema: uniqueSchema('rr'), transport, ids, clock });
    const b = await openClient(dbs.clientDb, switchableTransport(() => server));
    for (let i = 0; i < 5; i++) await a.mutate('increment', { type: 'tally', id: `t${i}`, field: 'n', by: 1 });
    await a.sync();
    // A's increments wait while B moves t0 on the server; then A pulls, and its pending ones rebase on B's.
    offline = true;
    for (let i = 0; i < 20; i++) await a.mutate('increment', { type: 'tally', id: `t${i % 5}`, field: 'n', by: 10 });
    await b.sync();
    await b.mutate('increment', { type: 'tally', id: 't0', field: 'n', by: 100 });
    await b.sync();
    offline = false;
    rec.on = true;
    expect(await a.pull()).toBe(true);
    rec.on = false;
    const snapshotReads = rec.log.filter((s) => /^SELECT (key, )?data FROM "[^"]+"\.snapshot WHERE key/.test(s));
    expect(snapshotReads, snapshotReads.join('\n')).toHaveLength(1);
    expect(snapshotReads[0]).toContain('key = ANY');
    expect(rec.log.filter((s) => /FROM "[^"]+"\.pending p/.test(s))).toHaveLength(1);
    // The rebase is right: the server's values and A's 20 pending increments over them.
    const visible = Object.fromEntries((await a.query({ type: 'tally' })).map((r) => [r.id, (r.data as { n: number }).n]));
    expect(visible).toEqual({ t0: 1 + 100 + 40, t1: 41, t2: 41, t3: 41, t4: 41 });

    // Nothing new on the server: the answer is the cookie A sent; no transaction, no write.
    rec.log.length = 0;
    rec.on = true;
    expect(await a.pull()).toBe(false);
    rec.on = false;
    expect(rec.log.filter((s) => s === 'BEGIN')).toEqual([]);
    expect(rec.log.filter((s) => /^(INSERT|UPDATE|DELETE)/.test(s))).toEqual([]);
    expect(rec.log.length).toBeLessThanOrEqual(1);
    await Promise.all([a.close(), b.close()]);
  });
});
