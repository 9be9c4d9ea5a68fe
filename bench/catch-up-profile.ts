/**
 * Where a catch-up's time and memory go, on the client (issue 12, goal 2): one catch-up over
 * HTTP against bench/catch-up-server.ts, timing the transport (request + JSON + zod) apart from
 * the apply (ClientDatabase.applyPull), and printing this process's memory by kind after it:
 * RSS, JS heap, array buffers, and PGlite's wasm heap (which grows and never shrinks).
 * Run: npx tsx --expose-gc bench/catch-up-profile.ts [--entities 100000] [--behind] [--page-bytes N]
 * `--top N` profiles the catch-up alone (node:inspector, setup excluded) and prints the N functions
 * with the most self time, and how much of it is PGlite's wasm and its in-memory file system.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { PGliteDb } from '../src/db/pglite.ts';
import { PersistentSyncEngine } from '../src/engine/persistent-sync-engine.ts';
import { fetchTransport, registerClientGroup } from '../src/engine/transports/fetch-json.ts';
import type { Transport } from '../src/seams/index.ts';
import { Session } from 'node:inspector/promises';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const entities = arg('entities', 100_000);
const behind = process.argv.includes('--behind');

const child = spawn(process.execPath, ['--import', 'tsx', new URL('./catch-up-server.ts', import.meta.url).pathname], { stdio: ['ignore', 'pipe', 'inherit'] });
const urls = JSON.parse(await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve))) as { now: string };
const seed = async (upTo: number) => (await (await fetch(`${urls.now}/seed?upTo=${upTo}`, { method: 'POST' })).json()) as { version: number };

const mb = (n: number) => (n / 1e6).toFixed(0);
interface EmFS { readdir(p: string): string[]; lstat(p: string): { mode: number; size: number }; isDir(mode: number): boolean }
/** Bytes of the files under a directory of PGlite's in-memory file system. */
function du(fs: EmFS, dir: string): number {
  let total = 0;
  for (const name of fs.readdir(dir)) {
    if (name === '.' || name === '..') continue;
    const st = fs.lstat(`${dir}/${name}`);
    total += fs.isDir(st.mode) ? du(fs, `${dir}/${name}`) : st.size;
  }
  return total;
}
function memory(db: PGliteDb) {
  const m = process.memoryUsage();
  const mod = (db.pg as unknown as { Module: { HEAPU8: Uint8Array; FS: EmFS } }).Module;
  return { rss: m.rss, heap: m.heapUsed, buffers: m.arrayBuffers, wasm: mod.HEAPU8.length, wal: du(mod.FS, '/pglite/data/pg_wal'), data: du(mod.FS, '/pglite/data/base') };
}

const timing = { transport: 0, apply: 0, pulls: 0, response: 0 };
/** fetch that reads the whole pull response before handing it on: the server's and the network's share. */
const bufferingFetch: typeof fetch = async (input, init) => {
  const t = performance.now();
  const res = await fetch(input, init);
  const buf = await res.arrayBuffer();
  if (String(input).endsWith('/pull')) timing.response += performance.now() - t;
  return new Response(buf, { status: res.status, headers: res.headers });
};
function timedTransport(inner: Transport): Transport {
  return {
    push: inner.push.bind(inner),
    async pull(req) {
      const t = performance.now();
      try {
        return await inner.pull(req);
      } finally {
        timing.transport += performance.now() - t;
        timing.pulls++;
      }
    },
  };
}

const statements = new Map<string, number>();
async function open(group: string) {
  const token = await registerClientGroup(urls.now, group);
  const db = await PGliteDb.open('memory');
  const engine = await PersistentSyncEngine.open({ db, transport: timedTransport(fetchTransport({ baseURL: urls.now, token: () => token, fetch: bufferingFetch })), clientGroupID: group, maxPages: 1000,
    ...(process.argv.includes('--chunk') ? { applyChunkBytes: arg('chunk', 0) } : {}),
  });
  if (process.argv.includes('--statements')) {
    // Per statement: its time, summed by the statement's first words (printed at the end).
    const tx = db.transaction.bind(db);
    const timed = <Q extends { query: PGliteDb['query'] }>(q: Q): Q => ({
      ...q,
      query: async (sql: string, params?: unknown[]) => {
        const t = performance.now();
        try {
          return await q.query(sql, params);
        } finally {
          const k = sql.replace(/\s+/g, ' ').slice(0, 90);
          statements.set(k, (statements.get(k) ?? 0) + performance.now() - t);
        }
      },
    });
    db.transaction = (fn, o) => tx((q) => fn(timed(q)), o);
  }
  const apply = engine.store.applyPull.bind(engine.store);
  engine.store.applyPull = async (...a) => {
    const t = performance.now();
    try {
      return await apply(...a);
    } finally {
      timing.apply += performance.now() - t;
    }
  };
  return { db, engine };
}

await seed(behind ? Math.round(entities / 10) : 0);
const c = await open('g-prof');
if (behind) await c.engine.sync();
await seed(entities);
timing.transport = timing.apply = timing.pulls = timing.response = 0;
globalThis.gc?.();
const m0 = memory(c.db);
let peakRss = m0.rss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
const top = arg('top', 0);
const session = top > 0 ? new Session() : undefined;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
}
const t = performance.now();
const cpu0 = process.cpuUsage();
await c.engine.sync();
const cpu = process.cpuUsage(cpu0);
const profile = session ? (await session.post('Profiler.stop')).profile : undefined;
const total = performance.now() - t;
clearInterval(sampler);
const m1 = memory(c.db);
peakRss = Math.max(peakRss, m1.rss);
const n = (await c.engine.query({ type: 'item' })).length;
if (n !== entities) throw new Error(`${n} entities after catch-up, expected ${entities}`);
console.log(
  `${behind ? '10%' : 'new'} client, ${entities.toLocaleString('en')} entities: ${timing.pulls} pulls, ${(total / 1000).toFixed(2)} s, this process's CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s ` +
    `(transport ${(timing.transport / 1000).toFixed(2)} s of which server + network ${(timing.response / 1000).toFixed(2)} s, apply ${(timing.apply / 1000).toFixed(2)} s); ` +
    `growth MB: peak RSS ${mb(peakRss - m0.rss)}, heap ${mb(m1.heap - m0.heap)}, array buffers ${mb(m1.buffers - m0.buffers)}, PGlite wasm heap ${mb(m0.wasm)} -> ${mb(m1.wasm)}, ` +
    `PGlite files: tables ${mb(m0.data)} -> ${mb(m1.data)}, WAL ${mb(m0.wal)} -> ${mb(m1.wal)}`,
);
if (profile) printTop(profile, top);
for (const [k, ms] of [...statements].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`${ms.toFixed(0).padStart(6)} ms  ${k}`);
await c.engine.close();
await c.db.close();
child.kill();
process.exit(0);

interface CpuProfile { nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[]; samples?: number[]; timeDeltas?: number[] }
/** Self time by function, and the shares of PGlite's wasm and of its bundled JS (the Emscripten file system, the wire protocol). */
function printTop(p: CpuProfile, n: number) {
  const ms = new Map<number, number>();
  (p.samples ?? []).forEach((id, i) => ms.set(id, (ms.get(id) ?? 0) + (p.timeDeltas?.[i] ?? 0) / 1000));
  const self = new Map<string, number>();
  let wasm = 0;
  let pgliteJs = 0;
  let busy = 0;
  for (const node of p.nodes) {
    const t = ms.get(node.id) ?? 0;
    const f = node.callFrame;
    if (f.functionName === '(idle)' || f.functionName === '(program)') continue;
    busy += t;
    if (f.url.startsWith('wasm')) wasm += t;
    else if (f.url.includes('pglite')) pgliteJs += t;
    const k = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    self.set(k, (self.get(k) ?? 0) + t);
  }
  console.log(`profile: ${busy.toFixed(0)} ms busy; PGlite wasm ${wasm.toFixed(0)} ms, PGlite JS ${pgliteJs.toFixed(0)} ms`);
  for (const [k, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${t.toFixed(0).padStart(6)} ms  ${k}`);
}
