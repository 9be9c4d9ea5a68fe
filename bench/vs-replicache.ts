/**
 * Our engine against a stock replicache@15.3.0 client (issue 12, goal 5): the same workload,
 * driven by each against the same server over HTTP (bench/catch-up-server.ts in its own
 * process: srvx mounting SyncApi on PGlite). Each round writes a batch of mutations (60%
 * upserts, 40% increments on 50 documents), then pushes and pulls until the server has
 * acknowledged all of them (no pending mutation left). Rounds alternate between the two clients
 * so machine load weighs on both alike. Prints mutations/s from write to acknowledged.
 * Ours: PersistentSyncEngine on PGlite (memory), fetchTransport, in both durability modes:
 * 'durable' (mutate resolves once committed) and 'deferred' (Replicache-like: mutate resolves from
 * memory, one statement per flush; flushIntervalMs default). Theirs: Replicache with kvStore
 * 'mem', pullInterval null, pushDelay 0, absolute push/pull URLs (set once its group is
 * registered), and the same three mutators. Also prints, per round, the wall and client CPU time
 * of the write and the sync phases (the server runs in its own process, so this process's CPU is
 * the client's), the median over rounds of the per-round ratio (less moved by a load spike in one
 * round than the totals), our statements per mutate and per sync, and every request the server
 * refused.
 * Run: npm run bench:replicache [-- --rounds 10 --batch 100]
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Replicache, type WriteTransaction } from 'replicache';
import { PGliteDb } from '../src/db/pglite.ts';
import type { Db, Queryable, TransactionOptions } from '../src/db/types.ts';
import { PersistentSyncEngine } from '../src/engine/persistent-sync-engine.ts';
import { fetchTransport, registerClientGroup } from '../src/engine/transports/fetch-json.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const rounds = arg('rounds', 10);
const batch = arg('batch', 100);

// Every answer of the server to either client: a refused request (a 401 from a pull sent before
// the token was set, say) is listed at the end.
const refused: string[] = [];
const realFetch = globalThis.fetch.bind(globalThis);
globalThis.fetch = async (input, init) => {
  const res = await realFetch(input, init);
  if (res.status >= 400) refused.push(`${res.status} ${String(input instanceof Request ? input.url : input)}`);
  return res;
};

/** The client's Db with a count of statements sent to PGlite (a transaction's BEGIN and COMMIT count). */
function countStatements(inner: Db): Db & { statements: number } {
  const counter = { statements: 0 };
  const wrap = (q: Queryable): Queryable => ({
    query: (sql, params) => (counter.statements++, q.query(sql, params)),
    exec: (sql) => (counter.statements++, q.exec(sql)),
  });
  return Object.assign(counter, {
    dialect: inner.dialect,
    ...wrap(inner),
    transaction: <T>(fn: (tx: Queryable) => Promise<T>, o?: TransactionOptions) => ((counter.statements += 2), inner.transaction((tx) => fn(wrap(tx)), o)),
    close: () => inner.close(),
  });
}

const child = spawn(process.execPath, ['--import', 'tsx', new URL('./catch-up-server.ts', import.meta.url).pathname], { stdio: ['ignore', 'pipe', 'inherit'] });
const dbg = (m: string) => process.env.BENCH_DEBUG && console.error(`${(performance.now() / 1000).toFixed(1)} s: ${m}`);
const base = (JSON.parse(await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve))) as { now: string }).now;

type Op = { name: 'upsert'; args: { type: string; id: string; data: Record<string, unknown> } } | { name: 'increment'; args: { type: string; id: string; field: string; by: number } };
const op = (client: string, n: number): Op =>
  n % 5 < 3
    ? { name: 'upsert', args: { type: 'doc', id: `${client}-${n % 50}`, data: { n, title: `document ${n % 50}`, body: 'a few words of review comment text' } } }
    : { name: 'increment', args: { type: 'doc', id: `${client}-votes-${n % 50}`, field: 'votes', by: 1 } };

// Ours, in each durability mode, each on its own PGlite.
type Ours = 'ours' | 'deferred';
const openOurs = async (durability: 'durable' | 'deferred') => {
  const group = `g-ours-${durability}`;
  const token = await registerClientGroup(base, group);
  const pglite = await PGliteDb.open('memory');
  const db = countStatements(pglite);
  const engine = await PersistentSyncEngine.open({ db, transport: fetchTransport({ baseURL: base, token: () => token }), clientGroupID: group, durability });
  await engine.sync();
  return { engine, db, pglite };
};
const engines: Record<Ours, Awaited<ReturnType<typeof openOurs>>> = { ours: await openOurs('durable'), deferred: await openOurs('deferred') };
dbg('ours ready');

// Theirs.
const mutators = {
  upsert: async (tx: WriteTransaction, x: { type: string; id: string; data: any }) => {
    await tx.set(`${x.type}/${x.id}`, x.data);
  },
  delete: async (tx: WriteTransaction, x: { type: string; id: string }) => {
    await tx.del(`${x.type}/${x.id}`);
  },
  increment: async (tx: WriteTransaction, x: { type: string; id: string; field: string; by: number }) => {
    const cur = ((await tx.get(`${x.type}/${x.id}`)) ?? {}) as Record<string, number>;
    await tx.set(`${x.type}/${x.id}`, { ...cur, [x.field]: (cur[x.field] ?? 0) + x.by });
  },
};
// No URLs until the group is registered: Replicache pulls as soon as it opens, and a pull
// without the bearer token (set after the constructor, once clientGroupID is known) was refused
// with 401. Without a URL it neither pulls nor pushes (isPullDisabled/isPushDisabled).
const rep = new Replicache<typeof mutators>({ name: `bench-${process.pid}`, kvStore: 'mem', pullInterval: null, pushDelay: 0, mutators, licenseKey: '' } as any);
const repGroup = await rep.clientGroupID;
rep.auth = `Bearer ${await registerClientGroup(base, repGroup)}`;
rep.pullURL = `${base}/api/replicache/pull`;
rep.pushURL = `${base}/api/replicache/push`;
dbg('replicache registered');
await rep.pull({ now: true });
dbg('replicache pulled');

// Every phase is timed apart (write: the batch of mutate calls; sync: push and pull until acknowledged).
type Phase = 'write' | 'sync';
type Who = Ours | 'theirs';
const zero = () => ({ write: 0, sync: 0 });
const wall = { ours: zero(), deferred: zero(), theirs: zero() };
const cpu = { ours: zero(), deferred: zero(), theirs: zero() };
const statements = { ours: zero(), deferred: zero() };
/** Each counted round's wall time (write + sync) per client: rounds are paired, so their ratios can be compared round by round. */
const roundMs: Record<Who, number[]> = { ours: [], deferred: [], theirs: [] };
let counted = false;
const phase = async (who: Who, p: Phase, run: () => Promise<void>) => {
  const db = who === 'theirs' ? undefined : engines[who].db;
  const before = db?.statements ?? 0;
  const t = performance.now();
  const c = process.cpuUsage();
  await run();
  if (!counted) return;
  const ms = performance.now() - t;
  wall[who][p] += ms;
  if (p === 'write') roundMs[who].push(ms);
  else roundMs[who][roundMs[who].length - 1]! += ms;
  const used = process.cpuUsage(c);
  cpu[who][p] += (used.user + used.system) / 1000;
  if (who !== 'theirs') statements[who][p] += db!.statements - before;
};

const counts = { ours: 0, deferred: 0 };
const runOurs = (who: Ours) => async () => {
  const engine = engines[who].engine;
  await phase(who, 'write', async () => {
    for (let i = 0; i < batch; i++) {
      const o = op(who === 'ours' ? 'o' : 'd', counts[who]++);
      await engine.mutate(o.name, o.args as never);
    }
  });
  // Deferred: the sync's push flushes the unflushed writes first (one statement).
  await phase(who, 'sync', async () => {
    for (let s = await engine.getState(); s.pendingCount > 0 || (s.unflushedCount ?? 0) > 0; s = await engine.getState()) await engine.sync();
  });
};
let m = 0;
const runTheirs = async () => {
  await phase('theirs', 'write', async () => {
    for (let i = 0; i < batch; i++) {
      const o = op('r', m++);
      if (o.name === 'upsert') await rep.mutate.upsert(o.args);
      else await rep.mutate.increment(o.args);
    }
  });
  // Acknowledged: a pull has returned lastMutationIDChanges covering every mutation.
  await phase('theirs', 'sync', async () => {
    for (let tries = 0; (await rep.experimentalPendingMutations()).length > 0; tries++) {
      if (tries > 1000) throw new Error('replicache: mutations never acknowledged');
      await rep.push({ now: true });
      await rep.pull({ now: true });
    }
  });
};

for (let r = 0; r < rounds + 1; r++) {
  // The first round warms up both (JIT, PGlite, connections) and is not counted.
  counted = r > 0;
  // Rotated each round, so that load and warm caches weigh on all three alike.
  const order: [Who, () => Promise<void>][] = [['ours', runOurs('ours')], ['deferred', runOurs('deferred')], ['theirs', runTheirs]];
  for (const [name, run] of [...order.slice(r % 3), ...order.slice(0, r % 3)]) {
    const t = performance.now();
    await run();
    if (process.env.BENCH_DEBUG) console.error(`round ${r} ${name} ${(performance.now() - t).toFixed(0)} ms`);
  }
}
const total = rounds * batch;
const rate = (who: Who) => total / ((wall[who].write + wall[who].sync) / 1000);
const theirRate = rate('theirs');
// All ended with the same server: check they see what it acknowledged.
const votes = async (who: Ours, client: string) => ((await engines[who].engine.get('doc', `${client}-votes-3`)) as { votes?: number } | undefined)?.votes;
const theirDoc = (await rep.query((tx) => tx.get('doc/r-votes-3'))) as { votes?: number } | undefined;
const perRound = (ms: number) => (ms / rounds).toFixed(1);
const load = (await import('node:os')).loadavg()[0]!.toFixed(1);
console.log(`${total.toLocaleString('en')} mutations each, in ${rounds} rounds of ${batch} (write, then push and pull until acknowledged); server in its own process on PGlite; load average ${load}`);
// The median over rounds of Replicache's round time over this client's in the same round (the
// three ran one after another): a load spike in one round moves the total, hardly the median.
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const pairedRatio = (who: Who) => median(roundMs[who].map((ms, i) => roundMs.theirs[i]! / ms));
console.log(`| client | mutations/s, write to acknowledged | ratio | median of per-round ratios | ms per round: write + sync | client CPU ms per round: write + sync |\n|---|---|---|---|---|---|`);
const row = (label: string, who: Who) =>
  console.log(`| ${label} | ${rate(who).toFixed(0)} | ${(rate(who) / theirRate).toFixed(2)}x | ${pairedRatio(who).toFixed(2)}x | ${perRound(wall[who].write)} + ${perRound(wall[who].sync)} | ${perRound(cpu[who].write)} + ${perRound(cpu[who].sync)} |`);
row('ours, durable (PersistentSyncEngine, PGlite memory)', 'ours');
row("ours, deferred (durability: 'deferred')", 'deferred');
row('stock replicache@15.3.0 (kvStore mem)', 'theirs');
for (const who of ['ours', 'deferred'] as const) {
  console.log(`${who}: ${(statements[who].write / total).toFixed(2)} statements per mutate, ${(statements[who].sync / rounds).toFixed(1)} per sync of a round (BEGIN and COMMIT count)`);
}
console.log(`requests refused (HTTP status >= 400): ${refused.length}${refused.length ? ` (${refused.slice(0, 3).join('; ')})` : ''}`);
console.log(`check: votes durable ${await votes('ours', 'o')}, deferred ${await votes('deferred', 'd')}, theirs ${theirDoc?.votes} on a document incremented once per 50 of its ops`);
await rep.close();
for (const e of Object.values(engines)) await e.pglite.close();
child.kill();
process.exit(0);
