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

const pushBody = (group: string, client: string, from: number, n: number, name: 'upsert' | 'increment' = 'upsert') => ({
  pushVersion: 1, clientGroupID: group, profileID: 'p', schemaVersion: '1',
  mutations: Array.from({ length: n }, (_, i) => ({
    clientID: client, id: from + i, name, timestamp: from + i,
    args: name === 'upsert'
      ? { type: 'item', id: `k${(from + i) % 200}`, data: { n: from + i, text: 'some text of a comment' } }
      : { type: 'item', id: `k${(from + i) % 200}`, field: 'n', by: 1 },
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
  /** This process's CPU ms over the counted chunks (PGlite runs in it): steadier than wall time on a loaded machine. */
  cpuMs?: number;
  cleanup(): Promise<void>;
}

async function pushWorkload(db: Db, size: number, pushesPerChunk: number, name: 'upsert' | 'increment' = 'upsert'): Promise<Workload> {
  const schema = schemaName('push');
  const s = await ServerDatabase.open(db, { clock, schema });
  const next = [1, 1, 1, 1];
  let i = 0;
  return {
    name: `pushes of ${size} ${name}s`, units: 0, ms: 0,
    async chunk() {
      for (let k = 0; k < pushesPerChunk; k++, i++) {
        const c = i % 4;
        const r = await handlePush(s, pushBody('g', `c${c}`, next[c]!, size, name));
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

/** Pulls of a client already at the server's version (a polling client's usual pull): one statement each. */
async function upToDatePullWorkload(db: Db, perChunk: number): Promise<Workload> {
  const schema = schemaName('pull');
  const s = await ServerDatabase.open(db, { clock, schema });
  await handlePush(s, pushBody('g', 'c', 1, 1));
  const req = (cookie: unknown) => ({ pullVersion: 1, clientGroupID: 'g', cookie, profileID: 'p', schemaVersion: '1' });
  const { cookie } = (await handlePull(s, req(null))).body as { cookie: unknown };
  return {
    name: 'up-to-date pulls', units: 0, ms: 0,
    async chunk() {
      for (let k = 0; k < perChunk; k++) {
        const r = await handlePull(s, req(cookie));
        if (r.status !== 200) throw new Error(`pull failed: ${JSON.stringify(r.body)}`);
      }
      return perChunk;
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
  const ws = [
    await bareWorkload(db, perChunk), await pushWorkload(db, 1, perChunk), await pushWorkload(db, 20, Math.max(2, Math.round(perChunk / 5))),
    await pushWorkload(db, 1, perChunk, 'increment'), await upToDatePullWorkload(db, perChunk),
  ];
  for (let round = 0; round < 13; round++) {
    for (const w of ws) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const n = await w.chunk();
      // The first three rounds warm up PGlite's and V8's compiled paths and are not counted.
      if (round >= 3) {
        w.ms += performance.now() - t0;
        const c = process.cpuUsage(c0);
        w.cpuMs = (w.cpuMs ?? 0) + (c.user + c.system) / 1000;
        w.units += n;
      }
    }
  }
  for (const w of ws) await w.cleanup();
  console.log(`  CPU µs per unit in this process: ${ws.map((w) => `${w.name} ${((w.cpuMs! * 1000) / w.units).toFixed(0)}`).join(' | ')}`);
  return ws.map((w) => w.units / (w.ms / 1000));
}

/**
 * Issue 10 §3's cases under the limits: 40 documents just under the 256 KiB cap (one push
 * each), 1,000 increments on one of them sent in one request (the client resends what the
 * budget left), a new client's catch-up and a pull from cookie 1. Log sizes are logical
 * (the JSON text), not what PostgreSQL stores after compression.
 */
async function boundedWork(db: Db) {
  const schema = schemaName('big');
  const s = await ServerDatabase.open(db, { clock, schema });
  const doc = (i: number) => ({ rows: Array.from({ length: 6000 }, (_, k) => `${i}-${k}-${(k * 7919) % 10007}-lorem-ipsum-dolor-sit-amet-`) });
  const env = (group: string, mutations: unknown[]) => ({ pushVersion: 1, clientGroupID: group, profileID: 'p', schemaVersion: '1', mutations });
  for (let i = 0; i < 40; i++) {
    await handlePush(s, env('g', [{ clientID: 'w', id: i + 1, name: 'upsert', timestamp: 0, args: { type: 'doc', id: `d${i}`, data: doc(i) } }]));
  }
  const docBytes = JSON.stringify(doc(0)).length;
  const logBytes = async () => Number((await db.query<{ b: number }>(`SELECT coalesce(sum(octet_length(effects::text)), 0)::bigint AS b FROM ${schema}.replication_log`)).rows[0]!.b);
  const before = await logBytes();
  const incs = Array.from({ length: 1000 }, (_, i) => ({ clientID: 'i', id: i + 1, name: 'increment', timestamp: 0, args: { type: 'doc', id: 'd0', field: 'n', by: 1 } }));
  const requestBytes = JSON.stringify(env('g2', incs)).length;
  let done = 0;
  let requests = 0;
  let firstMs = 0;
  const t0 = performance.now();
  while (done < 1000) {
    const t = performance.now();
    const r = await handlePush(s, env('g2', incs.slice(done)));
    if (requests++ === 0) firstMs = performance.now() - t;
    done = (r.body as { lastMutationIDs: Record<string, number> }).lastMutationIDs.i!;
  }
  const allMs = performance.now() - t0;
  const grown = (await logBytes()) - before;
  console.log(`  1,000 increments on a ${(docBytes / 1024).toFixed(0)} KiB document sent in one ${(requestBytes / 1e3).toFixed(0)} KB request: first response ${firstMs.toFixed(0)} ms; all applied after ${requests} requests in ${(allMs / 1000).toFixed(1)} s; log grew ${(grown / 1e6).toFixed(0)} MB`);

  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const catchUp = async (cookie: unknown) => {
    let pages = 0;
    let largest = 0;
    const t = performance.now();
    for (;;) {
      const r = (await handlePull(s, { pullVersion: 1, clientGroupID: 'g3', cookie, profileID: 'p', schemaVersion: '1' })).body as { cookie: unknown; patch: unknown[] };
      peak = Math.max(peak, process.memoryUsage().rss);
      if (r.patch.length === 0) break;
      pages++;
      largest = Math.max(largest, JSON.stringify(r).length);
      cookie = r.cookie;
    }
    return `${pages} pages in ${((performance.now() - t) / 1000).toFixed(1)} s, largest ${(largest / 1e6).toFixed(1)} MB`;
  };
  console.log(`  a new client's catch-up (40 documents, ${(40 * docBytes / 1e6).toFixed(0)} MB): ${await catchUp(null)}`);
  console.log(`  a pull from cookie 1 through the whole log: ${await catchUp({ order: 1, epoch: s.epoch })}; RSS grew ${((peak - rss0) / 1e6).toFixed(0)} MB (peak ${(peak / 1e9).toFixed(2)} GB)`);
  if (db.dialect === 'postgres') await db.exec(`DROP SCHEMA ${schema} CASCADE`);
}

async function run(name: string, db: Db) {
  const [bare, one, twenty, incs, pulls] = (await measure(db)) as [number, number, number, number, number];
  console.log(`${name}: bare transaction ${bare.toFixed(0)}/s | single-mutation pushes ${one.toFixed(0)} mutations/s (${(one / bare).toFixed(2)}x bare) | pushes of 20 ${twenty.toFixed(0)} mutations/s (${(twenty / bare).toFixed(2)}x bare) | single increments ${incs.toFixed(0)} mutations/s (${(incs / bare).toFixed(2)}x bare) | up-to-date pulls ${pulls.toFixed(0)}/s (${(pulls / bare).toFixed(2)}x bare)`);
  if (!process.argv.includes('--no-limits')) await boundedWork(db);
  await db.close();
}

await run('PGlite', await PGliteDb.open());
if (process.env.LOCKSTEP_PG_URL) await run('PostgreSQL', new PostgresDb(process.env.LOCKSTEP_PG_URL));
else console.log('PostgreSQL: skipped (set LOCKSTEP_PG_URL; bash scripts/pg-cluster.sh start prints one)');
