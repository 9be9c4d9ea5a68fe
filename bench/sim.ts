/**
 * Simulator throughput and memory: for 10, 100 and 1,000 clients (each in a fresh process, so RSS
 * is its own), events/s and statements/s of a seeded chaos run, next to the raw PGlite statement
 * rate measured in the same process, and peak RSS. Run: npm run bench:sim. Figures move ±20%
 * with machine load; the statement counts are exact.
 */
import { execFileSync } from 'node:child_process';
import { PGliteDb } from '../src/db/pglite.ts';
import { runSimulation } from '../src/sim/run.ts';
import { buildConfig } from '../src/sim/scenario.ts';

async function rawStatementRate(): Promise<number> {
  const db = await PGliteDb.open();
  await db.exec('CREATE TABLE t (k int PRIMARY KEY, v jsonb)');
  const n = 3000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await db.query('INSERT INTO t VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v', [i % 50, JSON.stringify({ i })]);
  const rate = n / ((performance.now() - t0) / 1000);
  await db.close();
  return rate;
}

async function one(clients: number) {
  const stores = { server: await PGliteDb.open(), clients: await PGliteDb.open() };
  const raw = await rawStatementRate();
  const steps = Math.max(300, clients * 2);
  const r = await runSimulation(buildConfig({ seed: 'bench', profile: 'chaos', clients, steps }), stores);
  const secs = r.stats.wallMs / 1000;
  const row = {
    clients,
    steps,
    verdict: r.verdict,
    'wall s': +secs.toFixed(1),
    'trace events/s': Math.round(r.stats.traceEvents / secs),
    'schedule events/s': Math.round(r.stats.events / secs),
    'statements/s': Math.round(r.stats.statements / secs),
    'raw PGlite stmts/s': Math.round(raw),
    'sim/raw': +(r.stats.statements / secs / raw).toFixed(2),
    'peak RSS MB': Math.round(process.resourceUsage().maxRSS / 1024),
  };
  process.stdout.write(JSON.stringify(row) + '\n');
  await stores.server.close();
  await stores.clients.close();
}

const arg = process.argv.indexOf('--one');
if (arg >= 0) {
  await one(Number(process.argv[arg + 1]));
} else {
  const sizes = process.argv.slice(2).map(Number).filter(Boolean);
  const rows = [];
  for (const n of sizes.length ? sizes : [10, 100, 1000]) {
    const out = execFileSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--one', String(n)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    rows.push(JSON.parse(out.trim().split('\n').pop()!));
  }
  console.table(rows);
}
