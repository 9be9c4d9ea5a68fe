import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BugVariant } from './bugs/types.ts';
import { runSimulation } from './run.ts';
import { buildConfig } from './scenario.ts';
import { shrink } from './shrink.ts';
import { toReplayFile, writeReplayFile } from './replay-file.ts';
import type { Stores } from './world.ts';

export interface ZooRow {
  bug: string;
  caught: boolean;
  seedsTried: number;
  secondsToDetection: number;
  violation: string;
  events: number;
  shrunkEvents: number;
  shrinkSeconds: number;
  replayFile: string;
}

/**
 * Runs each planted bug on seeds 1, 2, ... with the swarm profile until a checker fails by
 * itself, then shrinks that schedule. Nothing about the bug is told to the harness.
 */
export async function runZoo(
  stores: Stores,
  o: { bugs: readonly BugVariant[]; budgetSeeds: number; budgetSeconds: number; shrinkBudgetMs: number; outDir: string; steps?: number; onRow?: (r: ZooRow) => void },
): Promise<ZooRow[]> {
  const rows: ZooRow[] = [];
  mkdirSync(join(o.outDir, 'bugs'), { recursive: true });
  for (const bug of o.bugs) {
    const t0 = performance.now();
    const row: ZooRow = { bug: bug.name, caught: false, seedsTried: 0, secondsToDetection: 0, violation: '', events: 0, shrunkEvents: 0, shrinkSeconds: 0, replayFile: '' };
    for (let seed = 1; seed <= o.budgetSeeds && (performance.now() - t0) / 1000 < o.budgetSeconds; seed++) {
      row.seedsTried = seed;
      const r = await runSimulation(buildConfig({ seed: String(seed), profile: 'swarm', bug: bug.name, steps: o.steps }), stores);
      if (r.verdict === 'violation') {
        row.caught = true;
        row.secondsToDetection = +((performance.now() - t0) / 1000).toFixed(1);
        row.violation = r.violations[0]!.checker;
        row.events = r.schedule.length;
        const s = await shrink(r, stores, { budgetMs: o.shrinkBudgetMs });
        row.shrunkEvents = s.result.schedule.length;
        row.shrinkSeconds = +(s.elapsedMs / 1000).toFixed(1);
        row.replayFile = join(o.outDir, 'bugs', `${bug.name}.min.json`);
        writeReplayFile(row.replayFile, toReplayFile(s.result, { events: r.schedule.length, clients: r.config.clients }));
        break;
      }
    }
    if (!row.caught) row.secondsToDetection = +((performance.now() - t0) / 1000).toFixed(1);
    rows.push(row);
    o.onRow?.(row);
  }
  const md = [
    '| bug | caught | seeds tried | seconds to detection | violation | events | shrunk events | shrink s |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.bug} | ${r.caught ? 'yes' : 'NO'} | ${r.seedsTried} | ${r.secondsToDetection} | ${r.violation} | ${r.events} | ${r.shrunkEvents} | ${r.shrinkSeconds} |`),
  ].join('\n');
  writeFileSync(join(o.outDir, 'bugs.md'), md + '\n');
  writeFileSync(join(o.outDir, 'bugs.json'), JSON.stringify(rows, null, 1) + '\n');
  return rows;
}
