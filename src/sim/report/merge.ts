import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UsageError } from '../scenario.ts';
import type { Timeline } from './html.ts';
import { totalsOf } from './build.ts';
import { reportSchema, type Report, type SeedReport } from './schema.ts';
import { writeReportFiles } from './write.ts';

/** Settings that must agree for shard reports to be one sweep (per-seed fault mixes may differ). */
const sameSweep = ['profile', 'clients', 'steps', 'stepMs', 'server', 'bug'] as const;

const bySeed = (a: SeedReport, b: SeedReport) => a.seed.localeCompare(b.seed, 'en', { numeric: true });

function readReport(dir: string): Report {
  const file = join(dir, 'report.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const parsed = reportSchema.safeParse(raw);
  if (!parsed.success) throw new UsageError(`${file} is not a lockstep report: ${parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

function readTimelines(dir: string): Timeline[] {
  const file = join(dir, 'timelines.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Timeline[]) : [];
}

/** Copies a shard's replay file into the merged directory and returns its new path (or the old one if it is gone). */
function moveReplay(path: string | undefined, shardDir: string, outDir: string): string | undefined {
  if (!path) return path;
  const from = [join(shardDir, 'failures', basename(path)), path].find((p) => existsSync(p));
  if (!from) return path;
  const to = join(outDir, 'failures', basename(path));
  mkdirSync(join(outDir, 'failures'), { recursive: true });
  copyFileSync(from, to);
  return to;
}

/**
 * Combines the report directories of shards (or of any sweeps of the same configuration) into
 * one: seeds in seed order, totals recomputed, replay files copied into OUT/failures/ with the
 * paths in the report pointing there, and the timelines drawn again. wallMs is the slowest shard's.
 */
export function mergeReportDirs(dirs: readonly string[], outDir: string): { report: Report; warnings: string[] } {
  if (dirs.length === 0) throw new UsageError('merge needs at least one report directory');
  const warnings: string[] = [];
  const reports = dirs.map(readReport);
  const base = reports[0]!;
  for (const [i, r] of reports.entries()) {
    for (const k of sameSweep) {
      if (r.config[k] !== base.config[k]) throw new UsageError(`${dirs[i]} has ${k} ${JSON.stringify(r.config[k])}, ${dirs[0]} has ${JSON.stringify(base.config[k])}: not shards of one sweep`);
    }
    if (r.commit !== base.commit) warnings.push(`${dirs[i]} was made by commit ${r.commit}, ${dirs[0]} by ${base.commit}`);
  }
  const seeds = new Map<string, SeedReport>();
  for (const [i, r] of reports.entries()) {
    for (const s of r.seeds) {
      const seen = seeds.get(s.seed);
      if (seen && seen.traceHash !== s.traceHash) throw new UsageError(`seed ${s.seed} appears twice with different trace hashes (${seen.traceHash} in an earlier directory, ${s.traceHash} in ${dirs[i]})`);
      if (seen) {
        warnings.push(`seed ${s.seed} appears more than once; kept the first`);
        continue;
      }
      seeds.set(s.seed, { ...s, replayFile: moveReplay(s.replayFile, dirs[i]!, outDir), shrunkReplayFile: moveReplay(s.shrunkReplayFile, dirs[i]!, outDir) });
      if (seeds.get(s.seed)!.replayFile === undefined) delete seeds.get(s.seed)!.replayFile;
      if (seeds.get(s.seed)!.shrunkReplayFile === undefined) delete seeds.get(s.seed)!.shrunkReplayFile;
    }
  }
  const list = [...seeds.values()].sort(bySeed);
  const report = reportSchema.parse({
    ...base,
    createdAt: new Date().toISOString(),
    config: { ...base.config, firstSeed: list[0]?.seed ?? base.config.firstSeed, seeds: list.length },
    seeds: list,
    // Shards ran at the same time: the merged wall time is the slowest shard's.
    totals: totalsOf(list, Math.max(...reports.map((r) => r.totals.wallMs))),
  });
  const timelines = dirs.flatMap(readTimelines).sort((a, b) => a.seed.localeCompare(b.seed, 'en', { numeric: true })).slice(0, 20);
  writeReportFiles(outDir, report, timelines);
  return { report, warnings };
}
