/**
 * Parallel sweep speed-up: the same swarm sweep on 1 worker (in this process) and on N worker
 * processes (default 2), then per-seed trace hashes compared. Prints seeds, wall seconds of each
 * sweep (databases already open; worker start-up printed apart), speed-up, whether every seed's
 * verdict and trace hash match, and peak RSS per worker. Run: npm run bench:workers -- [--seeds
 * 40] [--workers 2] [--steps 300]. The target: 200 seeds at >= 1.7x with 2 workers on 2
 * idle cores; figures move with machine load.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig, type ConfigInput } from '../src/sim/scenario.ts';
import { openStores } from '../src/sim/stores.ts';
import { sweepWith, type SweepOptions } from '../src/sim/sweep.ts';
import { localRunner } from '../src/sim/parallel/seed-runner.ts';
import { workerPool } from '../src/sim/parallel/pool.ts';
import { seedPlan } from '../src/sim/parallel/shard.ts';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  const n = i >= 0 ? Number(process.argv[i + 1]) : def;
  if (!Number.isInteger(n) || n < 1) {
    console.error(`bench:workers: --${name} must be an integer >= 1`);
    process.exit(2);
  }
  return n;
};
const seeds = arg('seeds', 40);
const workers = arg('workers', 2);
const steps = arg('steps', 300);
const input: Omit<ConfigInput, 'seed'> = { profile: 'swarm', steps, clients: 8 };
const configFor = (seed: string) => buildConfig({ ...input, seed });
const options = (): SweepOptions => ({ outDir: mkdtempSync(join(tmpdir(), 'bench-workers-')), checkDeterminism: false, shrink: false, shrinkBudgetMs: 0, configFor });
const mb = (b: number) => `${Math.round(b / 2 ** 20)} MB`;
const time = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
  const t0 = performance.now();
  const r = await f();
  return [r, (performance.now() - t0) / 1000];
};

console.log(`bench:workers: ${seeds} seeds, swarm profile, ${steps} steps, 8 clients; 1 worker vs ${workers}`);
const stores = await openStores('pglite');
const [serial, serialS] = await time(() => sweepWith(localRunner(configFor, stores), seedPlan('1', seeds), configFor, options()));
await stores.close();
const serialRss = process.resourceUsage().maxRSS * 1024;
console.log(`1 worker: ${serialS.toFixed(1)} s (${(seeds / serialS).toFixed(2)} seeds/s), peak RSS ${mb(serialRss)}`);

const [pool, startS] = await time(() => workerPool(workers, { input }));
const [parallel, parallelS] = await time(() => sweepWith(pool, seedPlan('1', seeds), configFor, options()));
const rss = pool.peakRss();
await pool.close();
console.log(`${workers} workers: ${parallelS.toFixed(1)} s (${(seeds / parallelS).toFixed(2)} seeds/s), start-up ${startS.toFixed(1)} s, peak RSS per worker ${rss.map(mb).join(', ')}`);

const key = (r: typeof serial) => r.seeds.map((s) => `${s.seed} ${s.verdict} ${s.traceHash}`).join('\n');
const identical = key(serial) === key(parallel);
const row = {
  seeds,
  workers,
  'serial s': +serialS.toFixed(1),
  'parallel s': +parallelS.toFixed(1),
  'speed-up': +(serialS / parallelS).toFixed(2),
  'speed-up incl. start-up': +(serialS / (parallelS + startS)).toFixed(2),
  'identical trace hashes': identical,
  'converged (serial/parallel)': `${serial.totals.converged}/${parallel.totals.converged}`,
  'peak RSS per worker MB': rss.map((b) => Math.round(b / 2 ** 20)).join(' / '),
};
console.log(JSON.stringify(row));
process.exitCode = identical ? 0 : 1;
