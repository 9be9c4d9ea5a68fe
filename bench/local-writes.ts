/**
 * The local write path alone (no sync), on embedded PGlite in memory: CPU and wall time per
 * engine.mutate (60% upserts, 40% increments over 50 documents each, as bench/vs-replicache.ts),
 * next to the cheapest committed statement on the same database in the same run (an autocommit
 * one-row UPDATE over the simple query protocol) and a bare transaction (BEGIN, UPDATE, COMMIT),
 * batches alternating so that load weighs on all alike. Statements per mutate are counted at
 * the Db seam. The deferred durability mode's mutate (durability: 'deferred') is measured with
 * its flush: a flush (one statement) after every 100th write, its cost spread over the 100. Run: npx tsx bench/local-writes.ts [-- --rounds 30]
 */
import { loadavg } from 'node:os';
import { PGliteDb } from '../src/db/pglite.ts';
import type { Db, Queryable } from '../src/db/types.ts';
import { PersistentSyncEngine } from '../src/engine/persistent-sync-engine.ts';

const i = process.argv.indexOf('--rounds');
const rounds = i >= 0 ? Number(process.argv[i + 1]) : 30;
const pglite = await PGliteDb.open('memory');
let statements = 0;
const count = (q: Queryable): Queryable => ({ query: (sql, p) => (statements++, q.query(sql, p)), exec: (sql) => (statements++, q.exec(sql)) });
const db: Db = { dialect: pglite.dialect, ...count(pglite), transaction: (fn, o) => ((statements += 2), pglite.transaction((tx) => fn(count(tx)), o)), close: async () => {} };
const transport = { push: async () => { throw new Error('no server here'); }, pull: async () => { throw new Error('no server here'); } };
const engine = await PersistentSyncEngine.open({ db, transport, clientGroupID: 'g-bench' });
// Its own schema; the flush timer (a minute) never fires: the batch's flush() stores them.
const deferred = await PersistentSyncEngine.open({ db, transport, clientGroupID: 'g-bench-deferred', schema: 'deferred', durability: 'deferred', flushIntervalMs: 60_000 });
await pglite.exec('CREATE TABLE bench_bare (id int PRIMARY KEY, v int); INSERT INTO bench_bare VALUES (1, 0)');

let n = 0;
const flushes = { cpu: 0, wall: 0, n: 0 };
const kinds = {
  'engine.mutate': async () => {
    const k = n++;
    if (k % 5 < 3) await engine.mutate('upsert', { type: 'doc', id: `d${k % 50}`, data: { n: k, title: `document ${k % 50}`, body: 'a few words of review comment text' } });
    else await engine.mutate('increment', { type: 'doc', id: `v${k % 50}`, field: 'votes', by: 1 });
  },
  'engine.mutate, deferred (+ a flush per 100)': async () => {
    const k = n++;
    if (k % 5 < 3) await deferred.mutate('upsert', { type: 'doc', id: `d${k % 50}`, data: { n: k, title: `document ${k % 50}`, body: 'a few words of review comment text' } });
    else await deferred.mutate('increment', { type: 'doc', id: `v${k % 50}`, field: 'votes', by: 1 });
    if (k % 100 === 99) {
      // The flush alone: what a pull (its rebase runs on the stored queue) or push pays first when 100 writes wait.
      const c = process.cpuUsage();
      const t = performance.now();
      await deferred.flush();
      const u = process.cpuUsage(c);
      flushes.cpu += u.user + u.system;
      flushes.wall += (performance.now() - t) * 1000;
      flushes.n++;
    }
  },
  'autocommit UPDATE (simple protocol)': () => pglite.exec('UPDATE bench_bare SET v = v + 1 WHERE id = 1'),
  'bare transaction (BEGIN, UPDATE, COMMIT)': () => pglite.transaction(async (tx) => tx.query('UPDATE bench_bare SET v = v + 1 WHERE id = $1', [1])),
};
type Kind = keyof typeof kinds;
const cpu = Object.fromEntries(Object.keys(kinds).map((k) => [k, 0])) as Record<Kind, number>;
const wall = { ...cpu };
const engineStatements: Partial<Record<Kind, number>> = {};
for (let r = 0; r <= rounds; r++) {
  const order = Object.keys(kinds) as Kind[];
  // Each engine's batch starts at a multiple of 100 of the shared counter, so the deferred one flushes once per batch.
  n = 0;
  if (r % 2) order.reverse();
  for (const k of order) {
    const s = statements;
    const c = process.cpuUsage();
    const t = performance.now();
    for (let j = 0; j < 100; j++) await kinds[k]();
    if (r === 0) continue; // warm-up
    const u = process.cpuUsage(c);
    cpu[k] += u.user + u.system;
    wall[k] += (performance.now() - t) * 1000;
    if (k.startsWith('engine.')) engineStatements[k] = (engineStatements[k] ?? 0) + statements - s;
  }
}
const per = (x: number) => x / (rounds * 100);
console.log(`${rounds * 100} of each, alternating batches of 100; load average ${loadavg()[0]!.toFixed(1)}`);
console.log('| what | CPU µs each | wall µs each | CPU vs bare transaction |\n|---|---|---|---|');
for (const k of Object.keys(kinds) as Kind[]) {
  console.log(`| ${k} | ${per(cpu[k]).toFixed(0)} | ${per(wall[k]).toFixed(0)} | ${(cpu[k] / cpu['bare transaction (BEGIN, UPDATE, COMMIT)']).toFixed(2)}x |`);
}
// The warm-up round's flush is in `flushes` too: per flush is still per flush.
console.log(`deferred flush of 100 writes (one statement): ${(flushes.cpu / flushes.n / 1000).toFixed(2)} ms CPU, ${(flushes.wall / flushes.n / 1000).toFixed(2)} ms wall`);
for (const [k, v] of Object.entries(engineStatements)) console.log(`${k}: ${per(v).toFixed(2)} statements each (BEGIN and COMMIT count)`);
await pglite.close();
