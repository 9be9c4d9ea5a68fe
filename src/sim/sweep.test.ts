/** A swarm sweep draws a fault mix per seed (not one for the whole sweep), and the report shows each. */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeMix } from './config.ts';
import { buildConfig } from './scenario.ts';
import { runSweep } from './sweep.ts';
import type { Stores } from './world.ts';
import { useSimStores } from '../../test/support/sim-stores.ts';

const getStores = useSimStores();
let stores: Stores;
beforeAll(() => {
  stores = getStores();
});

describe('swarm sweep', () => {
  it('gives every seed its own mix, the one that seed has when run alone, and reports it', async () => {
    const out = `/tmp/lockstep-sweep-${process.pid}`;
    const seeds = ['31', '32', '33', '34'];
    const report = await runSweep(buildConfig({ seed: '31', profile: 'swarm', steps: 20, clients: 2 }), seeds, stores, { outDir: out, checkDeterminism: false, shrink: false, shrinkBudgetMs: 0 });
    const mixes = report.seeds.map((s) => JSON.stringify(s.mix));
    expect(new Set(mixes).size).toBe(seeds.length);
    for (const s of report.seeds) {
      const alone = buildConfig({ seed: s.seed, profile: 'swarm', steps: 20, clients: 2 });
      expect(s.mix).toEqual({ network: alone.network, faults: alone.faults, syncLoop: alone.syncLoop, wide: alone.wide, serverProcess: alone.serverProcess });
    }
    const md = readFileSync(`${out}/report.md`, 'utf8');
    const html = readFileSync(`${out}/report.html`, 'utf8');
    const json = JSON.parse(readFileSync(`${out}/report.json`, 'utf8'));
    expect(json.seeds[3].mix).toEqual(report.seeds[3]!.mix);
    for (const s of report.seeds) {
      expect(md).toContain(describeMix(s.mix!));
      expect(html).toContain(describeMix(s.mix!));
    }
  }, 120_000);
});
