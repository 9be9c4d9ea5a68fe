/** The report's fault coverage names every fault and checker, with counts, seeds, and the gaps. */
import { describe, expect, it } from 'vitest';
import { faultModules } from '../faults/index.ts';
import { checkerModules } from '../checkers/index.ts';
import { faultCoverageLines } from './fault-coverage.ts';
import type { Report } from './schema.ts';

const seed = (faults: Record<string, number>, checks: Record<string, number>) => ({ stats: { faults, checks } });

describe('fault coverage table', () => {
  it('lists every known fault (never-happened ones marked) and every checker with looks, seeds and violations', () => {
    const report = {
      totals: { faults: { crash: 3, duplicate: 2, 'poke-drop': 1 }, checks: { convergence: 2, rebase: 40 }, byChecker: { 'seed-timeout': 1 } },
      seeds: [seed({ crash: 2, duplicate: 2 }, { convergence: 1, rebase: 40 }), seed({ crash: 1, 'poke-drop': 1 }, { convergence: 1 })],
    } as unknown as Report;
    const md = faultCoverageLines(report).join('\n');
    for (const m of faultModules) expect(md).toContain(`| ${m.kind} |`);
    expect(md).toMatch(/\| crash \| scheduled \(config\.faults\.clientCrash\) \| 3 \| 2 \|/);
    expect(md).toMatch(/\| duplicate \| .* \| 2 \| 1 \|/);
    expect(md).toMatch(/\| partition \| .* \| \*\*never\*\* \| 0 \|/);
    expect(md).toMatch(/\| poke-drop \| observed \| 1 \| 1 \|/); // counted but not in the registry
    expect(md).toMatch(/Never happened in this sweep: offline, partition, /);
    for (const c of checkerModules) expect(md).toContain(`| ${c.name} |`);
    expect(md).toMatch(/\| convergence \| 2 \| 2 \| 0 \|/);
    expect(md).toMatch(/\| rebase \| 40 \| 1 \| 0 \|/);
    expect(md).toMatch(/\| seed-timeout \| 0 \| 0 \| 1 \|/);
  });
});
