/**
 * report.html in a real browser: lanes, event marks and the violation mark render, and clicking
 * an event shows its details. A screenshot goes to reports/report-html.png.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { PGliteDb } from '../src/db/pglite.ts';
import { buildConfig } from '../src/sim/scenario.ts';
import { runSweep } from '../src/sim/sweep.ts';
import { runSimulation } from '../src/sim/run.ts';
import type { Stores } from '../src/sim/world.ts';

const chromiumPath = '/usr/bin/chromium';
const haveChromium = existsSync(chromiumPath);

let stores: Stores;
let browser: Browser | undefined;
beforeAll(async () => {
  stores = { server: await PGliteDb.open(), clients: await PGliteDb.open() };
});
afterAll(async () => {
  await browser?.close();
  await stores.server.close();
  await stores.clients.close();
});

describe('report.html', () => {
  it.runIf(process.env.CI === 'true')('has chromium in CI', () => expect(haveChromium).toBe(true));

  it.skipIf(!haveChromium)('draws the shrunk failing schedule with its lanes and the violation mark', async () => {
    const out = join('reports', 'test-report');
    // The first seed that catches the bug: the sync loop's timing decides which one. A short run
    // of three clients, so that shrinking (a full run per trial) reaches its fixed point quickly.
    const config = (seed: string) => buildConfig({ seed, profile: 'swarm', bug: 'non-idempotent-push', steps: 40, clients: 3 });
    let seed = '1';
    for (let s = 1; s <= 20; s++) {
      const r = await runSimulation(config(String(s)), stores);
      if (r.verdict === 'violation') {
        seed = String(s);
        break;
      }
    }
    const report = await runSweep(config(seed), [seed], stores, {
      outDir: out, checkDeterminism: false, shrink: true, shrinkBudgetMs: 60_000,
    });
    expect(report.seeds[0]!.shrunkEvents).toBeLessThanOrEqual(12);
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    await page.goto(pathToFileURL(resolve(out, 'report.html')).href);
    const lanes = await page.locator('svg.timeline text.lane').allTextContents();
    expect(lanes).toContain('server');
    expect(lanes.some((l) => /^c\d+$/.test(l))).toBe(true);
    expect(await page.locator('svg.timeline .violation').count()).toBeGreaterThan(0);
    expect(await page.locator('svg.timeline circle.ev').count()).toBeGreaterThan(3);
    await page.locator('svg.timeline circle.ev').first().dispatchEvent('click');
    expect(await page.locator('#detail0').textContent()).toMatch(/ms · /);
    mkdirSync('reports', { recursive: true });
    await page.screenshot({ path: join('reports', 'report-html.png'), fullPage: true });
    // The timeline of a shrunk schedule fits on one screen.
    const box = await page.locator('svg.timeline').first().boundingBox();
    expect(box!.height).toBeLessThan(900);
  }, 240_000); // finding the seed, shrinking it, and a browser
});
