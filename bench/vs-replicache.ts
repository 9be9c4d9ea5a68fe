/**
 * Our engine against a stock replicache@15.3.0 client (issue 12, goal 5): the same workload,
 * driven by each against the same server over HTTP (bench/catch-up-server.ts in its own
 * process: srvx mounting SyncApi on PGlite). Each round writes a batch of mutations (60%
 * upserts, 40% increments on 50 documents), then pushes and pulls until the server has
 * acknowledged all of them (no pending mutation left). Rounds alternate between the two clients
 * so machine load weighs on both alike. Prints mutations/s from write to acknowledged.
 * Ours: PersistentSyncEngine on PGlite (memory), fetchTransport. Theirs: Replicache with kvStore
 * 'mem', pullInterval null, pushDelay 0, absolute push/pull URLs, and the same three mutators.
 * Run: npm run bench:replicache [-- --rounds 10 --batch 100]
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Replicache, type WriteTransaction } from 'replicache';
import { PGliteDb } from '../src/db/pglite.ts';
import { PersistentSyncEngine } from '../src/engine/persistent-sync-engine.ts';
import { fetchTransport, registerClientGroup } from '../src/engine/transports/fetch-json.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const rounds = arg('rounds', 10);
const batch = arg('batch', 100);

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
const db = await PGliteDb.open('memory');
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
const rep = new Replicache<typeof mutators>({ name: `bench-${process.pid}`, kvStore: 'mem', pushURL: `${base}/api/replicache/push`, pullURL: `${base}/api/replicache/pull`, pullInterval: null, pushDelay: 0, mutators, licenseKey: '' } as any);
const repGroup = await rep.clientGroupID;
rep.auth = `Bearer ${await registerClientGroup(base, repGroup)}`;
dbg('replicache registered');
await rep.pull({ now: true });
dbg('replicache pulled');

let n = 0;
const runOurs = async () => {
  for (let i = 0; i < batch; i++) {
    const o = op('o', n++);
    await ours.mutate(o.name, o.args as never);
  }
  while ((await ours.getState()).pendingCount > 0) await ours.sync();
};
let m = 0;
const runTheirs = async () => {
  for (let i = 0; i < batch; i++) {
    const o = op('r', m++);
    if (o.name === 'upsert') await rep.mutate.upsert(o.args);
    else await rep.mutate.increment(o.args);
  }
  // Acknowledged: a pull has returned lastMutationIDChanges covering every mutation.
  for (let tries = 0; (await rep.experimentalPendingMutations()).length > 0; tries++) {
    if (tries > 1000) throw new Error('replicache: mutations never acknowledged');
    await rep.push({ now: true });
    await rep.pull({ now: true });
  }
};

const time = { ours: 0, theirs: 0 };
for (let r = 0; r < rounds + 1; r++) {
  for (const [name, run] of (r % 2 ? [['theirs', runTheirs], ['ours', runOurs]] : [['ours', runOurs], ['theirs', runTheirs]]) as ['ours' | 'theirs', () => Promise<void>][]) {
    const t = performance.now();
    await run();
    // The first round warms up both (JIT, PGlite, connections) and is not counted.
    if (r > 0) time[name] += performance.now() - t;
    if (process.env.BENCH_DEBUG) console.error(`round ${r} ${name} ${(performance.now() - t).toFixed(0)} ms`);
  }
}
const total = rounds * batch;
const ourRate = total / (time.ours / 1000);
const theirRate = total / (time.theirs / 1000);
// Both ended with the same server: check they see what it acknowledged.
const doc = (await ours.get('doc', 'o-votes-3')) as { votes?: number } | undefined;
const theirDoc = (await rep.query((tx) => tx.get('doc/r-votes-3'))) as { votes?: number } | undefined;
console.log(`${total.toLocaleString('en')} mutations each, in ${rounds} rounds of ${batch} (write, then push and pull until acknowledged); server in its own process on PGlite`);
console.log(`| client | mutations/s, write to acknowledged | ratio |\n|---|---|---|`);
console.log(`| ours (PersistentSyncEngine, PGlite memory) | ${ourRate.toFixed(0)} | ${(ourRate / theirRate).toFixed(2)}x |`);
console.log(`| stock replicache@15.3.0 (kvStore mem) | ${theirRate.toFixed(0)} | 1.00x |`);
console.log(`check: ours votes ${doc?.votes}, theirs votes ${theirDoc?.votes} on a document incremented once per 50 of its ops`);
await rep.close();
await db.close();
child.kill();
process.exit(0);
