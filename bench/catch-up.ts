/**
 * Catch-up over HTTP on localhost (issue 12, goal 2): a new client, and a client whose cookie is
 * at 10% of the history, pull 100,000 entities through the real stack: the server in its own
 * process as in production (bench/catch-up-server.ts: srvx mounting SyncApi on PGlite), this
 * process the client (fetchTransport, PersistentSyncEngine on PGlite). Prints round trips,
 * seconds, this process's CPU seconds, response bytes and its peak memory growth (RSS and heap) per catch-up,
 * for the client as it is and, in the same run against the same server, as it was before branch
 * catchup2: PGlite's files grown by MEMFS's own 1/8 steps and one pull request at a time (the next
 * page asked for only after this one is applied). `--before-pages` adds the server's old page
 * settings (pageSize 5,000, pageBytes 4 MiB).
 * Memory grows most in a process's first catch-up (PGlite's heap and V8's never shrink): run
 * `-- --only new` and `-- --only 10%` in separate processes to see each one's own.
 * `wrapped` rows: the client wired as the demo app wires it (GroupToken.wrap), with and without
 * the page asked ahead that wrap used to drop.
 * Run: npm run bench:catchup [-- --entities 100000] [-- --only new|10%] [-- --variant now|before|wrapped] [-- --rtt-ms 0]
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { PGlite } from '@electric-sql/pglite';
import { PGliteDb } from '../src/db/pglite.ts';
import { PersistentSyncEngine } from '../src/engine/persistent-sync-engine.ts';
import { fetchTransport, registerClientGroup } from '../src/engine/transports/fetch-json.ts';
import { GroupToken, registerBody } from '../src/engine/transports/group-token.ts';
import type { Transport } from '../src/seams/index.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const entities = arg('entities', 100_000);
/** A network's round trip added to each request (default 0: localhost), to see what asking ahead hides. */
const rttMs = arg('rtt-ms', 0);
/** Round trips and response bytes of the pulls made through this fetch. */
function countingFetch() {
  const c = { pulls: 0, bytes: 0 };
  const f: typeof fetch = async (input, init) => {
    if (rttMs > 0) await new Promise((r) => setTimeout(r, rttMs));
    const res = await fetch(input, init);
    if (String(input).endsWith('/pull')) {
      c.pulls++;
      const buf = await res.arrayBuffer();
      c.bytes += buf.byteLength;
      return new Response(buf, { status: res.status, headers: res.headers });
    }
    return res;
  };
  return { c, f };
}

/** Peak RSS and heap growth while fn runs, sampled every 20 ms and at the end. */
async function peakGrowth<T>(fn: () => Promise<T>): Promise<{ value: T; rss: number; heap: number }> {
  globalThis.gc?.();
  const m0 = process.memoryUsage();
  let rss = m0.rss;
  let heap = m0.heapUsed;
  const sample = () => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  };
  const t = setInterval(sample, 20);
  try {
    const value = await fn();
    sample();
    return { value, rss: rss - m0.rss, heap: heap - m0.heapUsed };
  } finally {
    clearInterval(t);
  }
}

/**
 * How the app hands the engine its transport: fetchTransport itself, or wrapped by GroupToken as
 * the demo app does (`wrapped`), or wrapped as GroupToken.wrap did before it kept pullAhead
 * (`wrapped-no-ahead`: the demo asked for its catch-up pages one at a time).
 */
type Wiring = 'plain' | 'wrapped' | 'wrapped-no-ahead';

function wire(inner: Transport, base: string, group: string, token: string, wiring: Wiring): Transport {
  if (wiring === 'plain') return inner;
  const kept = new Map([[group, token]]);
  const keeper = new GroupToken({
    clientGroupID: group,
    key: group,
    storage: { getItem: (k) => kept.get(k) ?? null, setItem: (k, v) => void kept.set(k, v), removeItem: (k) => void kept.delete(k) },
    register: (g, t) => fetch(`${base}/api/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: registerBody(g, t) }),
    onLost: () => {},
  });
  const wrapped = keeper.wrap(inner);
  return wiring === 'wrapped' ? wrapped : { push: wrapped.push, pull: wrapped.pull };
}

async function newEngine(base: string, group: string, before: boolean, wiring: Wiring = 'plain') {
  // A keep-alive socket the server closed while the seed ran fails once (ECONNRESET): retry.
  const token = await registerClientGroup(base, group).catch(() => registerClientGroup(base, group));
  const { c, f } = countingFetch();
  // Before: PGlite as created, without PGliteDb.open's file growth tuning.
  const db = before ? new PGliteDb(await PGlite.create()) : await PGliteDb.open('memory');
  const transport = wire(fetchTransport({ baseURL: base, token: () => token, fetch: f }), base, group, token, wiring);
  const engine = await PersistentSyncEngine.open({ db, transport, clientGroupID: group, maxPages: 1000 });
  return { engine, db, c };
}

const child = spawn(process.execPath, ['--import', 'tsx', new URL('./catch-up-server.ts', import.meta.url).pathname], { stdio: ['ignore', 'pipe', 'inherit'] });
const urls = JSON.parse(await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve))) as { now: string; before: string };
const variantArg = process.argv.includes('--variant') ? process.argv[process.argv.indexOf('--variant') + 1] : undefined;
const variants = [
  { name: 'now', base: urls.now, before: false },
  { name: 'before (MEMFS growth, one request at a time)', base: urls.now, before: true },
  // As the demo app wires it (GroupToken.wrap), now and before wrap kept the page asked ahead.
  { name: 'wrapped (GroupToken.wrap, as the demo)', base: urls.now, before: false, wiring: 'wrapped' as const },
  { name: 'wrapped before it kept pullAhead', base: urls.now, before: false, wiring: 'wrapped-no-ahead' as const },
  ...(process.argv.includes('--before-pages') ? [{ name: 'server pages before (pageSize 5,000, pageBytes 4 MiB)', base: urls.before, before: false }] : []),
].filter((v) => variantArg === undefined || v.name.startsWith(variantArg));
const seed = async (upTo: number) => (await (await fetch(`${urls.now}/seed?upTo=${upTo}`, { method: 'POST' })).json()) as { version: number };

const t0 = performance.now();
await seed(Math.round(entities / 10));
// Clients at 10% of the history: one per variant, caught up now (not measured).
const behind = [];
for (const v of variants) {
  const e = await newEngine(v.base, `g-behind-${variants.indexOf(v)}`, v.before, 'wiring' in v ? v.wiring : 'plain');
  await e.engine.sync();
  behind.push(e);
}
const { version } = await seed(entities);
console.log(`seeded ${entities.toLocaleString('en')} entities (one upsert each) in ${((performance.now() - t0) / 1000).toFixed(1)} s; server version ${version}`);

const rows: string[] = [];
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
for (const [i, v] of variants.entries()) {
  for (const kind of ['new', '10%'] as const) {
    if (only && only !== kind) continue;
    const e = kind === 'new' ? await newEngine(v.base, `g-new-${i}`, v.before, 'wiring' in v ? v.wiring : 'plain') : behind[i]!;
    e.c.pulls = 0;
    e.c.bytes = 0;
    const serverCpu = async () => ((await (await fetch(`${urls.now}/cpu`)).json()) as { seconds: number }).seconds;
    const server0 = await serverCpu();
    const t = performance.now();
    const cpu0 = process.cpuUsage();
    // Before: pull() one page at a time, as sync() did (it now asks for the next page while applying one).
    const m = await peakGrowth(async () => {
      if (!v.before) return e.engine.sync();
      for (let p = 0; p < 1000 && (await e.engine.pull()); p++) {
        /* next page */
      }
    });
    const s = (performance.now() - t) / 1000;
    // This process's CPU (the client's work: the server runs in its own): a figure that load on
    // the machine changes far less than the seconds.
    const cpu = process.cpuUsage(cpu0);
    const server = (await serverCpu()) - server0;
    const n = (await e.engine.query({ type: 'item' })).length;
    if (n !== entities) throw new Error(`${v.name} ${kind}: ${n} entities after catch-up, expected ${entities}`);
    rows.push(`| ${v.name} | ${kind} | ${e.c.pulls} | ${s.toFixed(2)} | ${((cpu.user + cpu.system) / 1e6).toFixed(2)} | ${server.toFixed(2)} | ${(e.c.bytes / 1e6).toFixed(1)} | ${(m.rss / 1e6).toFixed(0)} | ${(m.heap / 1e6).toFixed(0)} |`);
    console.log(rows[rows.length - 1]);
    await e.engine.close();
    await e.db.close();
  }
}
console.log(`\n| client | catch-up | round trips | seconds | client CPU s | server CPU s | MB received | peak RSS growth MB | peak heap growth MB |\n|---|---|---|---|---|---|---|---|---|\n${rows.join('\n')}`);
child.kill();
process.exit(0);
