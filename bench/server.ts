/**
 * Push throughput of the server, in process, next to a bare transaction of comparable shape on
 * the same database in the same run. Also the bounded-work cases of issue 10 §3.
 * Run: npm run bench:server [-- pushes]. PostgreSQL too when LOCKSTEP_PG_URL is set.
 * Times move ±20% with machine load; ratios within one run are what count.
 */
import { PGliteDb } from '../src/db/pglite.ts';
import { PostgresDb } from '../src/db/postgres.ts';
import type { Db } from '../src/db/types.ts';
import { handlePull, handlePush, ServerDatabase } from '../src/server/index.ts';

const pushes = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 800);
const clock = { now: () => 1_700_000_000_000 };
let schemaN = 0;
const schemaName = (p: string) => `bench_${p}_${process.pid}_${++schemaN}`;

const pushBody = (group: string, client: string, from: number, n: number) => ({
  pushVersion: 1, clientGroupID: group, profileID: 'p', schemaVersion: '1',
  mutations: Array.from({ length: n }, (_, i) => ({
    clientID: client, id: from + i, name: 'upsert', timestamp: from + i,
    args: { type: 'item', id: `k${(from + i) % 200}`, data: { n: from + i, text: 'some text of a comment' } },
  })),
});

/**
 * A timed workload in chunks: the three workloads run interleaved, chunk by chunk, so that the
 * load of a shared machine weighs on each alike and their ratio means something.
 */
interface Workload {
  name: string;
  /** Runs one chunk and returns how many units (mutations or transactions) it did. */
  chunk(): Promise<number>;
  units: number;
  ms: number;
  cleanup(): Promise<void>;
}

async function pushWorkload(db: Db, size: number, pushesPerChunk: number): Promise<Workload> {
  const schema = schemaName('push');
  const s = await ServerDatabase.open(db, { clock, schema });
  const next = [1, 1, 1, 1];
  let i = 0;
  return {
    name: `pushes of ${size}`, units: 0, ms: 0,
    async chunk() {
      for (let k = 0; k < pushesPerChunk; k++, i++) {
        const c = i % 4;
        const r = await handlePush(s, pushBody('g', `c${c}`, next[c]!, size));
        if (r.status !== 200) throw new Error(`push failed: ${JSON.stringify(r.body)}`);
        next[c]! += size;
      }
      return pushesPerChunk * size;
    },
    cleanup: async () => {
      if (db.dialect === 'postgres') await db.exec(`DROP SCHEMA ${schema} CASCADE`);
    },
  };
}

/** Bare transactions: BEGIN, bump a counter, insert a row, COMMIT (what any push must at least do). */
async function bareWorkload(db: Db, perChunk: number): Promise<Workload> {
  const schema = schemaName('bare');
  await db.exec(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.c (id int PRIMARY KEY, v bigint); INSERT INTO ${schema}.c VALUES (1, 0);
    CREATE TABLE ${schema}.r (v bigint PRIMARY KEY, data jsonb)`);
  let i = 0;
  return {
    name: 'bare transactions', units: 0, ms: 0,
    async chunk() {
      for (let k = 0; k < perChunk; k++, i++) {
        await db.transaction(async (tx) => {
          const v = await tx.query<{ v: number }>(`UPDATE ${schema}.c SET v = v + 1 WHERE id = 1 RETURNING v`);
          await tx.query(`INSERT INTO ${schema}.r VALUES ($1, $2)`, [v.rows[0]!.v, JSON.stringify({ n: i })]);
        });
      }
      return perChunk;
    },
    cleanup: () => db.exec(`DROP SCHEMA ${schema} CASCADE`),
  };
}

async function measure(db: Db) {
  const perChunk = Math.max(10, Math.round(pushes / 10));
  const ws = [await bareWorkload(db, perChunk), await pushWorkload(db, 1, perChunk), await pushWorkload(db, 20, Math.max(2, Math.round(perChunk / 5)))];
  for (let round = 0; round < 13; round++) {
    for (const w of ws) {
      const t0 = performance.now();
      const n = await w.chunk();
      // The first three rounds warm up PGlite's and V8's compiled paths and are not counted.
      if (round >= 3) {
        w.ms += performance.now() - t0;
        w.units += n;
      }
    }
  }
  for (const w of ws) await w.cleanup();
  return ws.map((w) => w.units / (w.ms / 1000));
}

/** Issue 10 §3: 1,000 increments in one push on a big document, then a new client's first pull. */
async function boundedWork(db: Db) {
  const schema = schemaName('big');
  const s = await ServerDatabase.open(db, { clock, schema });
  const big = { blob: 'x'.repeat(200 * 1024) };
  await handlePush(s, { pushVersion: 1, clientGroupID: 'g', profileID: 'p', schemaVersion: '1',
    mutations: Array.from({ length: 40 }, (_, i) => ({ clientID: 'w', id: i + 1, name: 'upsert', timestamp: 0, args: { type: 'doc', id: `d${i}`, data: big } })) });
  const logBytes = async () => Number((await db.query<{ b: number }>(`SELECT coalesce(sum(pg_column_size(effects)), 0)::bigint AS b FROM ${schema}.replication_log`)).rows[0]!.b);
  const before = await logBytes();
  const incs = Array.from({ length: 1000 }, (_, i) => ({ clientID: 'i', id: i + 1, name: 'increment', timestamp: 0, args: { type: 'doc', id: 'd0', field: 'n', by: 1 } }));
  const t0 = performance.now();
  const r = await handlePush(s, { pushVersion: 1, clientGroupID: 'g2', profileID: 'p', schemaVersion: '1', mutations: incs });
  const pushMs = performance.now() - t0;
  const got = (r.body as { lastMutationIDs?: Record<string, number> }).lastMutationIDs?.i;
  const grown = (await logBytes()) - before;
  const t1 = performance.now();
  const p = await handlePull(s, { pullVersion: 1, clientGroupID: 'g3', cookie: null, profileID: 'p', schemaVersion: '1' });
  const pullMs = performance.now() - t1;
  const pageBytes = JSON.stringify(p.body).length;
  const rss = process.memoryUsage().rss;
  console.log(`  1,000 increments on a 200 KiB document in one push: ${pushMs.toFixed(0)} ms, ${got ?? 'all'} applied, log effects grew ${(grown / 1e6).toFixed(1)} MB (stored, compressed)`);
  console.log(`  first pull of 40 documents of 200 KiB: ${pullMs.toFixed(0)} ms, first page ${(pageBytes / 1e6).toFixed(1)} MB; RSS ${(rss / 1e9).toFixed(2)} GB`);
  if (db.dialect === 'postgres') await db.exec(`DROP SCHEMA ${schema} CASCADE`);
}

async function run(name: string, db: Db) {
  const [bare, one, twenty] = (await measure(db)) as [number, number, number];
  console.log(`${name}: bare transaction ${bare.toFixed(0)}/s | single-mutation pushes ${one.toFixed(0)} mutations/s (${(one / bare).toFixed(2)}x bare) | pushes of 20 ${twenty.toFixed(0)} mutations/s (${(twenty / bare).toFixed(2)}x bare)`);
  if (!process.argv.includes('--no-limits')) await boundedWork(db);
  await db.close();
}

await run('PGlite', await PGliteDb.open());
if (process.env.LOCKSTEP_PG_URL) await run('PostgreSQL', new PostgresDb(process.env.LOCKSTEP_PG_URL));
else console.log('PostgreSQL: skipped (set LOCKSTEP_PG_URL; bash scripts/pg-cluster.sh start prints one)');
