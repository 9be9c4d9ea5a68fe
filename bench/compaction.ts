/**
 * The replication log's size per 100,000 mutations, without compaction and with it (issue 12,
 * goal 3). The same workload goes to two schemas of one PGlite: 100,000 mutations in pushes of
 * 100 from 10 clients, upserts, increments and deletes over 2,000 documents of ~150 bytes. One
 * schema is never compacted; the other runs compact() (default retention: the last 10,000
 * versions) every 10,000 mutations. Sizes: rows, logical JSON bytes of the stored effects and
 * args, and PostgreSQL's on-disk size (pg_total_relation_size: heap, TOAST and indexes) of the
 * log plus the compacted base.
 * Run: npm run bench:compaction [-- --mutations 100000]
 */
import { PGliteDb } from '../src/db/pglite.ts';
import { ServerDatabase } from '../src/server/index.ts';

const i = process.argv.indexOf('--mutations');
const total = i >= 0 ? Number(process.argv[i + 1]) : 100_000;
let t = 1_700_000_000_000;
const clock = { now: () => t };
const db = await PGliteDb.open();
const plain = await ServerDatabase.open(db, { clock, schema: 'plain' });
const compacted = await ServerDatabase.open(db, { clock, schema: 'compacted' });

function mutation(n: number) {
  const client = `c${n % 10}`;
  const id = Math.floor(n / 10) + 1;
  const doc = `d${(n * 7919) % 2000}`;
  const kind = n % 10;
  if (kind < 6) return { clientID: client, id, name: 'upsert', timestamp: n, args: { type: 'doc', id: doc, data: { n, title: `document ${doc}`, body: 'a few words of review comment text, about one line long' } } };
  if (kind < 9) return { clientID: client, id, name: 'increment', timestamp: n, args: { type: 'doc', id: doc, field: 'votes', by: 1 } };
  return { clientID: client, id, name: 'delete', timestamp: n, args: { type: 'doc', id: doc } };
}

async function size(s: ServerDatabase) {
  const r = await db.query<{ rows: number; json: number; disk: number; base_rows: number }>(
    `SELECT (SELECT count(*) FROM ${s.schema}.replication_log)::int AS rows,
            (SELECT coalesce(sum(octet_length(effects::text) + octet_length(args::text)), 0) FROM ${s.schema}.replication_log)::bigint
              + (SELECT coalesce(sum(octet_length(value::text)), 0) FROM ${s.schema}.log_base)::bigint AS json,
            (pg_total_relation_size('${s.schema}.replication_log') + pg_total_relation_size('${s.schema}.log_base'))::bigint AS disk,
            (SELECT count(*) FROM ${s.schema}.log_base)::int AS base_rows`,
  );
  const x = r.rows[0]!;
  return { rows: Number(x.rows), baseRows: Number(x.base_rows), json: Number(x.json), disk: Number(x.disk) };
}

let compactMs = 0;
let compactions = 0;
const t0 = performance.now();
for (let n = 0; n < total; n += 100) {
  const batch = Array.from({ length: Math.min(100, total - n) }, (_, k) => mutation(n + k));
  // Ids are per client: a batch holds 10 consecutive ids of each client, in client order.
  batch.sort((a, b) => (a.clientID < b.clientID ? -1 : a.clientID > b.clientID ? 1 : a.id - b.id));
  for (const s of [plain, compacted]) {
    await s.push({ pushVersion: 1, clientGroupID: 'g', profileID: 'p', schemaVersion: '1', mutations: batch });
  }
  t += 1000;
  if ((n + 100) % 10_000 === 0) {
    const c0 = performance.now();
    await compacted.compact();
    compactMs += performance.now() - c0;
    compactions++;
  }
}
const per = 100_000 / total;
const a = await size(plain);
const b = await size(compacted);
const mb = (x: number) => ((x * per) / 1e6).toFixed(1);
console.log(`${total.toLocaleString('en')} mutations in ${((performance.now() - t0) / 1000).toFixed(0)} s; ${compactions} compactions, ${(compactMs / compactions).toFixed(0)} ms each on average`);
console.log(`\nper 100,000 mutations | log rows | base rows | logical JSON MB | on disk MB (log + base, indexes included)\n---|---|---|---|---`);
console.log(`no compaction | ${Math.round(a.rows * per).toLocaleString('en')} | 0 | ${mb(a.json)} | ${mb(a.disk)}`);
console.log(`compact() every 10,000 (keep 10,000 versions) | ${Math.round(b.rows * per).toLocaleString('en')} | ${Math.round(b.baseRows * per).toLocaleString('en')} | ${mb(b.json)} | ${mb(b.disk)}`);
const ents = await plain.readEntities();
const fold = (await import('../src/server/index.ts')).foldLog(await compacted.readLog(), await compacted.readLogBase());
if (JSON.stringify([...fold]) !== JSON.stringify([...ents])) throw new Error('compacted base + log does not fold to the entities');
console.log('check: fold(compacted base + remaining log) == the uncompacted server\'s entities');
await db.close();
