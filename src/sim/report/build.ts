import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { SimConfig } from '../config.ts';
import { reportSchema, type Report, type SeedReport } from './schema.ts';

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown';
  }
}

function packageVersion(): string {
  try {
    return JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

const sum = (records: (Record<string, number> | undefined)[]) => {
  const out: Record<string, number> = {};
  for (const r of records) for (const [k, v] of Object.entries(r ?? {})) out[k] = (out[k] ?? 0) + v;
  return Object.fromEntries(Object.entries(out).sort());
};

/** A sweep's totals from its seeds: one definition for a run's report and for merged shards. */
export function totalsOf(seeds: readonly SeedReport[], wallMs: number): Report['totals'] {
  const byChecker: Record<string, number> = {};
  for (const s of seeds) for (const c of new Set(s.violations.map((v) => v.checker))) byChecker[c] = (byChecker[c] ?? 0) + 1;
  return {
    seeds: seeds.length,
    converged: seeds.filter((s) => s.verdict === 'converged').length,
    violations: seeds.filter((s) => s.verdict === 'violation').length,
    events: seeds.reduce((a, s) => a + s.stats.events, 0),
    mutations: seeds.reduce((a, s) => a + s.stats.mutations, 0),
    statements: seeds.reduce((a, s) => a + s.stats.statements, 0),
    wallMs: Math.round(wallMs),
    byChecker,
    faults: sum(seeds.map((x) => x.stats.faults)),
    checks: sum(seeds.map((x) => x.stats.checks)),
  };
}

export function buildReport(config: SimConfig, seeds: SeedReport[], wallMs: number, coverage?: Report['coverage']): Report {
  const { seed, ...rest } = config;
  const report: Report = {
    tool: 'lockstep',
    version: packageVersion(),
    commit: gitCommit(),
    createdAt: new Date().toISOString(),
    config: { ...rest, firstSeed: seed, seeds: seeds.length },
    seeds,
    totals: totalsOf(seeds, wallMs),
    ...(coverage ? { coverage } : {}),
  };
  return reportSchema.parse(report);
}
