/**
 * Simulator throughput and memory: for 10, 100 and 1,000 clients (each in a fresh process, so RSS
 * is its own), events/s and statements/s of a seeded chaos run, next to the raw PGlite statement
 * rate measured in the same process (before and after the run, averaged), and peak RSS, after a
 * short warm-up run (steady state: code compiled); then
 * swarm seeds per hour on one core (default scenario: 8 clients, 300 steps). Run: npm run
 * bench:sim [sizes...] [--swarm-seeds n]. Rates are given per CPU second as well as per wall
 * second: the simulator and PGlite share one thread, so CPU time is what a core does, while wall
 * time on a shared machine moves with everyone else's load (the "sim/raw" ratio is per CPU
 * second; "sim/raw wall" is the same ratio by the clock). The statement counts are exact; they
 * cover what the simulated engine and server issue (BEGIN and COMMIT included), not the
 * checkers' observation reads, which cost CPU too. "cpu ms/step" is the cost of the run's work
 * (a step of the schedule), the figure to compare when a change cuts statements per operation;
 * "raw upserts/step" is that CPU in bare upserts measured in the same process. Every PGlite here,
 * the raw one too, has the simulator's settings (sim-db-pglite.ts; LOCKSTEP_SIM_PGLITE_SETTINGS).
 * "server/clients wasm MB": each store's PostgreSQL heap at the run's end (part of "end external").
 * The bare upsert is a light statement, so "sim/raw" also measures how heavy the engine's and
 * server's statements are. The like-for-like figure is "sim/same-mix": every statement the run
 * sent to PGlite ("logged stmts": BEGIN/COMMIT and the checkers' reads too) is written to a file
 * in the temporary directory (~100 bytes a statement: 105 MB at 1,000 clients; removed after) and replayed bare on fresh stores in a child process (statement-log.ts), and its CPU is divided
 * by the run's; "replay mismatches" counts statements that failed in one and not the other (0:
 * the replay redid the run's work). LOCKSTEP_BENCH_TOP=1 also prints the replay's costliest
 * statement shapes (share of its CPU, count, µs each) to stderr.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatementLog, replayStatementLog } from './statement-log.ts';
import { openSimPglite, simPgliteSettings } from '../src/sim/sim-db-pglite.ts';
import { runSimulation } from '../src/sim/run.ts';
import { buildConfig, configForSeed } from '../src/sim/scenario.ts';
import type { Db } from '../src/db/types.ts';

/** MB of a PGlite store's wasm memory (its PostgreSQL's whole heap: it grows and never shrinks); 0 when not PGlite. */
function wasmMB(db: unknown): number {
  const m = (db as { pg?: { Module?: { wasmMemory?: WebAssembly.Memory } } }).pg?.Module?.wasmMemory;
  return m ? Math.round(m.buffer.byteLength / 1e6) : 0;
}

/** CPU milliseconds of this process (user + system) since `from`. */
function cpuMs(from?: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1000;
}

async function rawStatementRate(): Promise<{ wall: number; cpu: number }> {
  const db = await openSimPglite();
  await db.exec('CREATE TABLE t (k int PRIMARY KEY, v jsonb)');
  const n = 3000;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await db.query('INSERT INTO t VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v', [i % 50, JSON.stringify({ i })]);
  const rate = { wall: n / ((performance.now() - t0) / 1000), cpu: n / (cpuMs(c0) / 1000) };
  await db.close();
  return rate;
}

/** Steady state: a short run first, so that compiling the engine, server and simulator code is not charged to the 10-client row (whose run lasts a second or two). */
const warmUp = (stores: { server: Db; clients: Db }) => runSimulation(buildConfig({ seed: 'warm-up', profile: 'chaos', clients: 4, steps: 100 }), stores);

/** The run's logged statements replayed bare on fresh stores after the same warm-up (a child process: its memory is not the run's). */
async function replay(path: string) {
  const stores = { server: await openSimPglite(), clients: await openSimPglite() };
  await warmUp(stores);
  const r = await replayStatementLog(path, [stores.server, stores.clients]);
  process.stdout.write(JSON.stringify(r) + '\n');
  await stores.server.close();
  await stores.clients.close();
}

async function one(clients: number) {
  const stores = { server: await openSimPglite(), clients: await openSimPglite() };
  await warmUp(stores);
  const before = await rawStatementRate();
  const steps = Math.max(300, clients * 2);
  // Every statement the run sends to PGlite (the checkers' reads too), for the same-mix baseline.
  // Logging is charged to the run (a JSON line per statement, a few µs against ~0.5 ms).
  const log = new StatementLog(join(tmpdir(), `lockstep-bench-sim-${process.pid}.jsonl`));
  const c0 = process.cpuUsage();
  const r = await runSimulation(buildConfig({ seed: 'bench', profile: 'chaos', clients, steps }), { server: log.recording(stores.server, 0), clients: log.recording(stores.clients, 1) });
  const cpuSecs = cpuMs(c0) / 1000;
  log.close();
  // The run's own peak, before the second raw measurement opens a third PGlite.
  const peakRss = process.resourceUsage().maxRSS;
  // Where memory is at the run's end: the JS heap (world, trace) and external (PGlite's wasm memory and in-memory files).
  const mem = process.memoryUsage();
  const serverWasm = wasmMB(stores.server);
  const clientsWasm = wasmMB(stores.clients);
  // The memory figures at once (stderr): the same-mix replay below takes as long again at 1,000 clients.
  console.error(`${clients} clients: trace ${r.traceHash}, peak RSS ${Math.round(peakRss / 1024)} MB, end heap ${Math.round(mem.heapUsed / 1e6)} MB, end external ${Math.round(mem.external / 1e6)} MB`);
  const after = await rawStatementRate();
  const raw = { wall: (before.wall + after.wall) / 2, cpu: (before.cpu + after.cpu) / 2 };
  await stores.server.close();
  await stores.clients.close();
  const same = child(['--replay', log.path]) as { statements: number; cpuMs: number; mismatches: number; firstMismatch?: string; top: object[] };
  // Where the replay's CPU went (stderr: the table of rows stays on stdout), with LOCKSTEP_BENCH_TOP=1.
  if (process.env.LOCKSTEP_BENCH_TOP) console.error(`${clients} clients, costliest statements of the replay:\n${same.top.map((t) => JSON.stringify(t)).join('\n')}`);
  rmSync(log.path);
  const secs = r.stats.wallMs / 1000;
  const row = {
    clients,
    steps,
    verdict: r.verdict,
    trace: r.traceHash,
    'wall s': +secs.toFixed(1),
    'cpu s': +cpuSecs.toFixed(1),
    'trace events/s': Math.round(r.stats.traceEvents / secs),
    'statements/s': Math.round(r.stats.statements / secs),
    'statements/cpu-s': Math.round(r.stats.statements / cpuSecs),
    'raw stmts/cpu-s': Math.round(raw.cpu),
    'sim/raw': +(r.stats.statements / cpuSecs / raw.cpu).toFixed(2),
    'sim/raw wall': +(r.stats.statements / secs / raw.wall).toFixed(2),
    // Like for like: every statement the run sent to PGlite, replayed bare (same data, same
    // settings), against the run's CPU for them; 1.00 would be a simulator that costs nothing.
    'logged stmts': same.statements,
    'replay cpu s': +(same.cpuMs / 1000).toFixed(1),
    'sim/same-mix': +(same.cpuMs / 1000 / cpuSecs).toFixed(2),
    'replay mismatches': same.mismatches,
    // Work-normalised: the same config before and after a change that issues fewer statements
    // per operation (which moves statements/cpu-s either way, as statements get fewer but larger).
    'cpu ms/step': +((cpuSecs * 1000) / steps).toFixed(1),
    // The same in bare upserts of this process (machine speed under load cancels out).
    'raw upserts/step': Math.round((cpuSecs * raw.cpu) / steps),
    'peak RSS MB': Math.round(peakRss / 1024),
    'end heap MB': Math.round(mem.heapUsed / 1e6),
    'end external MB': Math.round(mem.external / 1e6),
    'server wasm MB': serverWasm,
    'clients wasm MB': clientsWasm,
    'trace events': r.stats.traceEvents,
  };
  if (same.firstMismatch) console.error(`replay: ${same.mismatches} statements ended otherwise than in the run; first: ${same.firstMismatch}`);
  process.stdout.write(JSON.stringify(row) + '\n');
}

/** Swarm seeds back to back on shared stores, as one sweep worker runs them. */
async function swarm(seeds: number) {
  const stores = { server: await openSimPglite(), clients: await openSimPglite() };
  const base = buildConfig({ seed: '1', profile: 'swarm' });
  await runSimulation(buildConfig({ seed: 'warm-up', profile: 'chaos', clients: 4, steps: 100 }), stores);
  const before = await rawStatementRate();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let converged = 0;
  for (let i = 1; i <= seeds; i++) if ((await runSimulation(configForSeed(base, String(i)), stores)).verdict === 'converged') converged++;
  const cpuSecs = cpuMs(c0) / 1000;
  const secs = (performance.now() - t0) / 1000;
  const rawCpu = (before.cpu + (await rawStatementRate()).cpu) / 2;
  const row = {
    'swarm seeds': seeds,
    converged,
    clients: base.clients,
    steps: base.steps,
    'cpu s/seed': +(cpuSecs / seeds).toFixed(2),
    'wall s/seed': +(secs / seeds).toFixed(2),
    'seeds/hour on one core': Math.round((3600 * seeds) / cpuSecs),
    // A seed's CPU in bare upserts of this process: comparable across machine load.
    'raw upserts/seed': Math.round((cpuSecs * rawCpu) / seeds),
    'peak RSS MB': Math.round(process.resourceUsage().maxRSS / 1024),
  };
  process.stdout.write(JSON.stringify(row) + '\n');
  await stores.server.close();
  await stores.clients.close();
}

function child(args: string[]): Record<string, unknown> {
  const out = execFileSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
}

const argv = process.argv.slice(2);
const flag = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : undefined;
};
if (argv[0] === '--replay') {
  await replay(argv[1]!);
} else if (flag('--one') !== undefined) {
  await one(flag('--one')!);
} else if (flag('--swarm') !== undefined) {
  await swarm(flag('--swarm')!);
} else {
  const swarmSeeds = flag('--swarm-seeds') ?? 10;
  const sizes = argv.filter((a, i) => argv[i - 1] !== '--swarm-seeds' && !a.startsWith('--')).map(Number).filter(Boolean);
  console.log(`PGlite settings: ${Object.entries(simPgliteSettings()).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  const rows = [];
  for (const n of sizes.length ? sizes : [10, 100, 1000]) rows.push(child(['--one', String(n)]));
  console.table(rows);
  if (swarmSeeds > 0) console.table([child(['--swarm', String(swarmSeeds)])]);
}
