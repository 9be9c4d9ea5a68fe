/**
 * Parallel and sharded sweeps: strided shard slicing, worker processes give the serial run's
 * per-seed results and trace hashes, shard reports merge into one with working replay files,
 * stop conditions, and bad flag values exit 2 with a message naming the flag.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildConfig, type ConfigInput } from '../scenario.ts';
import { readReplayFile } from '../replay-file.ts';
import { runSweep, seedList, sweepWith, type SweepOptions } from '../sweep.ts';
import { mergeReportDirs } from '../report/merge.ts';
import { parseShard, seedPlan } from './shard.ts';
import { workerPool } from './pool.ts';
import { useSimStores } from '../../../test/support/sim-stores.ts';

const getStores = useSimStores();
const tmp = () => mkdtempSync(join(tmpdir(), 'lockstep-parallel-'));
const input: Omit<ConfigInput, 'seed'> = { steps: 25, clients: 4, profile: 'swarm' };
const configFor = (seed: string) => buildConfig({ ...input, seed });
const quiet = (outDir: string): SweepOptions => ({ outDir, checkDeterminism: false, shrink: false, shrinkBudgetMs: 10_000, configFor });
const hashes = (r: { seeds: { seed: string; traceHash: string; verdict: string }[] }) => Object.fromEntries(r.seeds.map((s) => [s.seed, `${s.verdict} ${s.traceHash}`]));

describe('shards', () => {
  it('slice a seed range strided: every seed in exactly one shard, balanced', () => {
    const all = (plan: ReturnType<typeof seedPlan>) => Array.from({ length: plan.count ?? 0 }, (_, k) => plan.at(k)!);
    const shards = [1, 2, 3].map((i) => all(seedPlan('10', 10, { index: i, count: 3 })));
    expect(shards).toEqual([['10', '13', '16', '19'], ['11', '14', '17'], ['12', '15', '18']]);
    expect(shards.flat().sort()).toEqual(seedList('10', 10).sort());
    expect(all(seedPlan('abc', 4, { index: 2, count: 2 }))).toEqual(['abc-1', 'abc-3']);
    expect(all(seedPlan('abc', 1))).toEqual(['abc']);
    expect(seedPlan('1', 2, { index: 3, count: 3 }).count).toBe(0);
    // A campaign has no end: shard 2/4 keeps taking every fourth seed.
    const open = seedPlan('1', undefined, { index: 2, count: 4 });
    expect([open.count, open.at(0), open.at(1), open.at(1000)]).toEqual([undefined, '2', '6', '4002']);
  });

  it('refuses a malformed --shard', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    for (const bad of ['0/2', '3/2', '2', 'a/b', '1/0', '-1/2']) expect(() => parseShard(bad), bad).toThrow(/--shard must be i\/n/);
  });
});

describe('workers', () => {
  it('two worker processes give the serial per-seed verdicts and trace hashes', async () => {
    const seeds = seedList('1', 4);
    const serial = await runSweep(configFor('1'), seeds, getStores(), quiet(tmp()));
    const pool = await workerPool(2, { input });
    let parallel;
    try {
      parallel = await sweepWith(pool, seedPlan('1', 4), configFor, quiet(tmp()));
      expect(pool.peakRss().every((b) => b > 50 * 2 ** 20)).toBe(true);
    } finally {
      await pool.close();
    }
    expect(parallel.seeds.map((s) => s.seed)).toEqual(seeds);
    expect(hashes(parallel)).toEqual(hashes(serial));
  });
});

describe('merge and stop conditions', () => {
  // 120 steps: with no confirming pull after a last page (pull answers' \`more\`), a sync sends fewer
  // requests, and 60 steps caught this bug on none of seeds 1-8 (4 of seeds 9-24); 120 catch it on 5 of 1-8.
  const bug: Omit<ConfigInput, 'seed'> = { steps: 120, clients: 3, profile: 'chaos', bug: 'non-idempotent-push' };
  const bugConfig = (seed: string) => buildConfig({ ...bug, seed });

  it('merges two shard directories: seeds in order, totals, replay files copied and readable, timelines drawn', async () => {
    const [a, b, merged] = [tmp(), tmp(), tmp()];
    const o = (outDir: string): SweepOptions => ({ outDir, checkDeterminism: false, shrink: true, shrinkFirst: 1, shrinkBudgetMs: 15_000, configFor: bugConfig });
    const ra = await runSweep(bugConfig('1'), seedPlan('1', 4, { index: 1, count: 2 }), getStores(), o(a));
    const rb = await runSweep(bugConfig('1'), seedPlan('1', 4, { index: 2, count: 2 }), getStores(), o(b));
    expect([ra.seeds.map((s) => s.seed), rb.seeds.map((s) => s.seed)]).toEqual([['1', '3'], ['2', '4']]);
    const { report } = mergeReportDirs([a, b], merged);
    expect(report.seeds.map((s) => s.seed)).toEqual(['1', '2', '3', '4']);
    expect(report.totals.seeds).toBe(4);
    expect(report.totals.violations).toBe(ra.totals.violations + rb.totals.violations);
    expect(report.totals.violations).toBeGreaterThan(0);
    expect(hashes(report)).toEqual({ ...hashes(ra), ...hashes(rb) });
    for (const s of report.seeds.filter((x) => x.verdict === 'violation')) {
      expect(s.replayFile).toBe(join(merged, 'failures', `${s.seed}.json`));
      expect(readReplayFile(s.replayFile!).config.seed).toBe(s.seed);
      if (s.shrunkReplayFile) expect(existsSync(s.shrunkReplayFile) && s.shrunkReplayFile.startsWith(merged)).toBe(true);
    }
    // One shrunk seed per shard (--shrink-first 1 each).
    expect(report.seeds.filter((s) => s.shrunkReplayFile).length).toBe(Math.min(1, ra.totals.violations) + Math.min(1, rb.totals.violations));
    const html = readFileSync(join(merged, 'report.html'), 'utf8');
    expect(html.match(/<svg id="tl\d+"/g)?.length).toBe(report.totals.violations);
    expect(readFileSync(join(merged, 'report.md'), 'utf8')).toMatch(new RegExp(`${report.totals.converged}/4 seeds converged`));
    expect(() => mergeReportDirs([a, tmp()], tmp())).toThrow(/cannot read .*report\.json/);
  });

  it('--bail stops after the first failure, --max-failures after N', async () => {
    const stops: string[] = [];
    const base = { outDir: tmp(), checkDeterminism: false, shrink: false, shrinkBudgetMs: 10_000, configFor: bugConfig, onStop: (r: string) => stops.push(r) };
    const bail = await runSweep(bugConfig('1'), seedList('1', 6), getStores(), { ...base, bail: true });
    expect(bail.totals.violations).toBe(1);
    expect(bail.seeds.at(-1)!.verdict).toBe('violation');
    const max2 = await runSweep(bugConfig('1'), seedList('1', 8), getStores(), { ...base, outDir: tmp(), maxFailures: 2 });
    expect(max2.totals.violations).toBe(2);
    expect(max2.seeds.at(-1)!.verdict).toBe('violation');
    expect(stops).toEqual(['--bail: a seed failed', '--max-failures 2 reached']);
  });
});

describe('the CLI refuses bad flag values with exit 2', () => {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const cli = join(import.meta.dirname, '..', 'cli.ts');
  it.each([
    [['--workers', '0'], /--workers must be an integer >= 1, got "0"/],
    [['--shard', '3/2'], /--shard must be i\/n with 1 <= i <= n/],
    [['--shard', 'two'], /--shard must be i\/n/],
    [['--max-failures', 'x'], /--max-failures must be an integer >= 1/],
    [['--shrink-first', '-1'], /--shrink-first must be an integer >= 0/],
    [['--minutes', '0'], /--minutes must be a number > 0/],
    [['merge', '/nonexistent/shard-1'], /cannot read \/nonexistent\/shard-1\/report\.json/],
  ])('%j', (args, message) => {
    const r = spawnSync(process.execPath, ['--import', tsx, cli, ...args], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
