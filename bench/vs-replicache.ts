/**
 * Our engine against a stock replicache@15.3.0 client (issue 12, goal 5): the same workload,
 * driven by each against the same server over HTTP (bench/catch-up-server.ts in its own
 * process: srvx mounting SyncApi on PGlite). Each round writes a batch of mutations (60%
 * upserts, 40% increments on 50 documents), then pushes and pulls until the server has
 * acknowledged all of them (no pending mutation left). Rounds alternate between the two clients
 * so machine load weighs on both alike. Prints mutations/s from write to acknowledged.
 * Ours: PersistentSyncEngine on PGlite (memory), fetchTransport. Theirs: Replicache with kvStore
 * 'mem', pullInterval null, pushDelay 0, absolute push/pull URLs (set once its group is
 * registered), and the same three mutators. Also prints, per round, the wall and client CPU time
 * of the write and the sync phases (the server runs in its own process, so this process's CPU is
 * the client's), our statements per mutate and per sync, and every request the server refused.
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

// Ours.
const group = 'g-ours';
const token = await registerClientGroup(base, group);
const pglite = await PGliteDb.open('memory');
const db = countStatements(pglite);
const ours = await PersistentSyncEngine.open({ db, transport: fetchTransport({ baseURL: base, token: () => token }), clientGroupID: group });
await ours.sync();
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
const wall = { ours: { write: 0, sync: 0 }, theirs: { write: 0, sync: 0 } };
const cpu = { ours: { write: 0, sync: 0 }, theirs: { write: 0, sync: 0 } };
const statements = { write: 0, sync: 0 };
let counted = false;
const phase = async (who: 'ours' | 'theirs', p: Phase, run: () => Promise<void>) => {
  const before = db.statements;
  const t = performance.now();
  const c = process.cpuUsage();
  await run();
  if (!counted) return;
  wall[who][p] += performance.now() - t;
  const used = process.cpuUsage(c);
  cpu[who][p] += (used.user + used.system) / 1000;
  if (who === 'ours') statements[p] += db.statements - before;
};

let n = 0;
const runOurs = async () => {
  await phase('ours', 'write', async () => {
    for (let i = 0; i < batch; i++) {
      const o = op('o', n++);
      await ours.mutate(o.name, o.args as never);
    }
  });
  await phase('ours', 'sync', async () => {
    while ((await ours.getState()).pendingCount > 0) await ours.sync();
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
  for (const [name, run] of (r % 2 ? [['theirs', runTheirs], ['ours', runOurs]] : [['ours', runOurs], ['theirs', runTheirs]]) as ['ours' | 'theirs', () => Promise<void>][]) {
    const t = performance.now();
    await run();
    if (process.env.BENCH_DEBUG) console.error(`round ${r} ${name} ${(performance.now() - t).toFixed(0)} ms`);
  }
}
const total = rounds * batch;
const time = { ours: wall.ours.write + wall.ours.sync, theirs: wall.theirs.write + wall.theirs.sync };
const ourRate = total / (time.ours / 1000);
const theirRate = total / (time.theirs / 1000);
// Both ended with the same server: check they see what it acknowledged.
const doc = (await ours.get('doc', 'o-votes-3')) as { votes?: number } | undefined;
const theirDoc = (await rep.query((tx) => tx.get('doc/r-votes-3'))) as { votes?: number } | undefined;
const perRound = (ms: number) => (ms / rounds).toFixed(1);
const load = (await import('node:os')).loadavg()[0]!.toFixed(1);
console.log(`${total.toLocaleString('en')} mutations each, in ${rounds} rounds of ${batch} (write, then push and pull until acknowledged); server in its own process on PGlite; load average ${load}`);
console.log(`| client | mutations/s, write to acknowledged | ratio | ms per round: write + sync | client CPU ms per round: write + sync |\n|---|---|---|---|---|`);
console.log(`| ours (PersistentSyncEngine, PGlite memory) | ${ourRate.toFixed(0)} | ${(ourRate / theirRate).toFixed(2)}x | ${perRound(wall.ours.write)} + ${perRound(wall.ours.sync)} | ${perRound(cpu.ours.write)} + ${perRound(cpu.ours.sync)} |`);
console.log(`| stock replicache@15.3.0 (kvStore mem) | ${theirRate.toFixed(0)} | 1.00x | ${perRound(wall.theirs.write)} + ${perRound(wall.theirs.sync)} | ${perRound(cpu.theirs.write)} + ${perRound(cpu.theirs.sync)} |`);
console.log(`ours: ${(statements.write / total).toFixed(2)} statements per mutate, ${(statements.sync / rounds).toFixed(1)} per sync of a round (BEGIN and COMMIT count)`);
console.log(`requests refused (HTTP status >= 400): ${refused.length}${refused.length ? ` (${refused.slice(0, 3).join('; ')})` : ''}`);
console.log(`check: ours votes ${doc?.votes}, theirs votes ${theirDoc?.votes} on a document incremented once per 50 of its ops`);
await rep.close();
await pglite.close();
child.kill();
process.exit(0);
