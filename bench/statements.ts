/**
 * Statements per push and per pull, counted at the Db seam (BEGIN and COMMIT included), and
 * requests (push and pull) at the Transport seam, on embedded PGlite, with wall time; also a whole
 * sync after 20 local writes in each durability mode. Run: npm run bench:engine [-- rounds].
 * Counts are exact; times move ±20% with machine load.
 */
import { PGliteDb } from '../src/db/pglite.ts';
import type { Db, Queryable } from '../src/db/types.ts';
import { PersistentSyncEngine } from '../src/engine/index.ts';
import { handlePull, handlePush, localTransport, ServerDatabase } from '../src/server/index.ts';

function counting(db: Db) {
  const counter = { n: 0 };
  const wrapQ = (q: Queryable): Queryable => ({
    query: (sql, params) => (counter.n++, q.query(sql, params)),
    exec: (sql) => (counter.n++, q.exec(sql)),
  });
  const wrapped: Db = {
    dialect: db.dialect,
    ...wrapQ(db),
    transaction: (fn, o) => ((counter.n += 2), db.transaction((tx) => fn(wrapQ(tx)), o)),
    close: () => db.close(),
  };
  return { db: wrapped, counter };
}

const rounds = Number(process.argv[2] ?? 100);
const server = counting(await PGliteDb.open());
const client = counting(await PGliteDb.open());
const clock = { now: () => 0 };
let n = 0;
const ids = { newId: (p: string) => `${p}${++n}` };
const database = await ServerDatabase.open(server.db, { clock });
const local = localTransport({ handlePush: (b) => handlePush(database, b), handlePull: (b) => handlePull(database, b) });
const requests = { n: 0 };
const transport = { push: (r: Parameters<typeof local.push>[0]) => (requests.n++, local.push(r)), pull: (r: Parameters<typeof local.pull>[0]) => (requests.n++, local.pull(r)) };
const a = await PersistentSyncEngine.open({ db: client.db, schema: 'a', transport, clock, ids });
const b = await PersistentSyncEngine.open({ db: client.db, schema: 'b', transport, clock, ids });
const d = await PersistentSyncEngine.open({ db: client.db, schema: 'd', transport, clock, ids, durability: 'deferred' });

/** Runs setup uncounted, then counts op only. */
async function measure(what: string, setup: (i: number) => Promise<unknown>, op: () => Promise<unknown>, perOp = 1) {
  let s = 0, c = 0, r = 0, ms = 0;
  for (let i = 0; i < rounds; i++) {
    await setup(i);
    const s0 = server.counter.n, c0 = client.counter.n, r0 = requests.n, t0 = performance.now();
    await op();
    ms += performance.now() - t0;
    s += server.counter.n - s0;
    c += client.counter.n - c0;
    r += requests.n - r0;
  }
  const k = rounds * perOp;
  return { what, 'server stmts': +(s / k).toFixed(2), 'client stmts': +(c / k).toFixed(2), requests: +(r / k).toFixed(2), 'ms each': +(ms / k).toFixed(2) };
}

const nothing = async () => {};
const first = await measure('local write (increment)', nothing, () => a.increment('review', 'r1', 'votes', 1));
await a.sync();
const rows = [
  first,
  await measure('push of 1 mutation', async () => { await a.pull(); await a.increment('review', 'r1', 'votes', 1); }, () => a.push()),
  await measure('pull acknowledging it (writer)', nothing, () => a.pull()),
  await measure('pull, nothing new', () => b.pull(), () => b.pull()),
  await measure('pull of 1 new version (reader)', async () => { await a.increment('review', 'r2', 'votes', 1); await a.sync(); }, () => b.pull()),
  await measure('push of 20 mutations, per mutation', async () => { await a.pull(); for (let j = 0; j < 20; j++) await a.increment('review', `r${j}`, 'votes', 1); }, () => a.push(), 20),
  await measure('push again before a pull (nothing new to send)', nothing, () => a.push(), 20),
  await measure('pull after those 20 (writer, rebase), per mutation', nothing, () => a.pull(), 20),
  await measure('sync after 20 writes (push, pull, rebase), durable', async () => { for (let j = 0; j < 20; j++) await a.increment('review', `r${j % 5}`, 'votes', 1); }, () => a.sync()),
  await measure("sync after 20 writes, durability 'deferred' (its flush included)", async () => { for (let j = 0; j < 20; j++) await d.increment('review', `d${j % 5}`, 'votes', 1); }, () => d.sync()),
];
console.table(rows);
await server.db.close();
await client.db.close();
