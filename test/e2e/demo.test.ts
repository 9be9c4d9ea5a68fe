/**
 * The demo in a real browser (Debian chromium via playwright-core) against the production build
 * served on 127.0.0.1: two contexts converge, offline edits survive a reload, offline votes add
 * up, a stock replicache@15.3.0 client in Node converges with them, and a foreign token is refused.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { Replicache, type WriteTransaction } from 'replicache';

const chromiumPath = '/usr/bin/chromium';
const enabled = existsSync(chromiumPath);
let server: ChildProcess | undefined;
let browser: Browser | undefined;
let base = '';
let dataDir = '';
let serverOut = '';
let serverErr = '';

const freePort = () => new Promise<number>((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => {
    const port = (s.address() as { port: number }).port;
    s.close(() => resolve(port));
  });
});

beforeAll(async () => {
  if (!enabled) return;
  // NODE_ENV=production: under vitest it is 'test', which builds React's development bundle (its
  // StrictMode-style double effects hid a poke-stream race that production builds have too).
  execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' } });
  const port = await freePort();
  dataDir = mkdtempSync(join(tmpdir(), 'lockstep-e2e-'));
  base = `http://127.0.0.1:${port}`;
  server = spawn(process.execPath, ['scripts/serve.mjs'], { env: { ...process.env, PORT: String(port), LOCKSTEP_DATA_DIR: dataDir, LOCKSTEP_PG_URL: '', DATABASE_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stderr!.on('data', (d: Buffer) => {
    serverErr += d.toString();
    process.stderr.write(d);
  });
  await new Promise<void>((resolve, reject) => {
    server!.stdout!.on('data', (d: Buffer) => {
      serverOut += d.toString();
      if (serverOut.includes('lockstep demo on')) resolve();
    });
    server!.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** The demo polls every 600 s here: whatever converges within a test's timeouts was carried by pokes. */
const demoURL = (query = '') => `${base}/?pollSeconds=600${query}`;

async function openDemo(ctx: BrowserContext): Promise<Page> {
  const page = await ctx.newPage();
  await page.goto(demoURL());
  await page.waitForSelector('#status', { timeout: 60_000 });
  return page;
}
const text = (p: Page, sel: string) => p.locator(sel).first().textContent();
const comments = async (p: Page) => (await p.locator('#comments .body').allTextContents()).sort();

/** Waits until both pages agree on votes, status and comments (the server pokes them). */
async function converge(a: Page, b: Page, until: (s: { votes: number; status: string | null; comments: string[] }) => boolean, timeoutMs = 30_000) {
  const t0 = Date.now();
  for (;;) {
    const [va, vb, sa, sb, ca, cb, pa, pb] = await Promise.all([text(a, '#votes'), text(b, '#votes'), text(a, '#review-status'), text(b, '#review-status'), comments(a), comments(b), text(a, '#pending'), text(b, '#pending')]);
    const s = { votes: Number(va), status: sa, comments: ca };
    if (va === vb && sa === sb && JSON.stringify(ca) === JSON.stringify(cb) && pa === '0' && pb === '0' && until(s)) return s;
    if (Date.now() - t0 > timeoutMs) throw new Error(`no convergence: votes ${va}/${vb}, status ${sa}/${sb}, comments ${ca.length}/${cb.length}, pending ${pa}/${pb}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.skipIf(!enabled)('demo app in chromium', () => {
  let ctxA: BrowserContext, ctxB: BrowserContext, a: Page, b: Page;

  it('two contexts edit the same review and converge', async () => {
    ctxA = await browser!.newContext();
    ctxB = await browser!.newContext();
    [a, b] = [await openDemo(ctxA), await openDemo(ctxB)];
    await a.click('#approve');
    await a.fill('#new-comment', 'Looks good from A');
    await a.click('#add-comment');
    await b.fill('#new-comment', 'One nit from B');
    await b.click('#add-comment');
    await b.click('#vote');
    const s = await converge(a, b, (x) => x.votes === 1 && x.comments.length === 2);
    expect(s).toEqual({ votes: 1, status: 'approved', comments: ['Looks good from A', 'One nit from B'] });
    // Edit and delete travel too.
    await b.locator('.comment', { hasText: 'One nit from B' }).locator('.edit').click();
    await b.fill('.edit-input', 'One nit from B (fixed)');
    await b.click('.save');
    await a.locator('.comment', { hasText: 'Looks good from A' }).locator('.delete').click();
    expect((await converge(a, b, (x) => x.comments.length === 1 && x.comments[0]!.includes('fixed'))).comments).toEqual(['One nit from B (fixed)']);
  });

  it('keeps offline edits across a reload, then converges when back online; offline votes add up', async () => {
    await b.click('#offline-switch');
    await expect.poll(() => text(b, '#online')).toContain('offline');
    await b.fill('#new-comment', 'Written offline');
    await b.click('#add-comment');
    await b.click('#vote');
    await b.click('#vote');
    await a.click('#vote');
    await a.click('#vote');
    await a.click('#vote');
    // Each click is a local transaction: wait until all three are durably queued, then reload.
    await expect.poll(() => text(b, '#pending')).toBe('3');
    await b.reload();
    await b.waitForSelector('#status', { timeout: 60_000 });
    await expect.poll(() => text(b, '#online')).toContain('offline');
    // The header shows once the engine is open; the live queries answer a moment later: once the
    // comments' query says ready, its first answer already holds the write stored before the reload.
    await b.waitForSelector('#comments[data-status="ready"]', { timeout: 30_000 });
    expect(await comments(b)).toContain('Written offline');
    await expect.poll(async () => Number(await text(b, '#pending')), { timeout: 30_000 }).toBe(3);
    await b.click('#offline-switch');
    const s = await converge(a, b, (x) => x.votes === 6 && x.comments.includes('Written offline'));
    expect(s.votes).toBe(1 + 2 + 3);
    expect(s.comments).toContain('Written offline');
    // The reloaded page gets pokes again (its stored token answered before the session had its engine,
    // and the poke stream was never opened): a vote from A reaches B without B's slow poll.
    await a.click('#vote');
    expect((await converge(a, b, (x) => x.votes === 7)).votes).toBe(7);
    mkdirSync('reports/e2e', { recursive: true });
    await a.screenshot({ path: 'reports/e2e/context-a.png', fullPage: true });
    await b.screenshot({ path: 'reports/e2e/context-b.png', fullPage: true });
  });

  it('a stock replicache@15.3.0 client in Node converges with the browsers', async () => {
    const mutators = {
      upsert: async (tx: WriteTransaction, x: { type: string; id: string; data: any }) => { await tx.set(`${x.type}/${x.id}`, x.data); },
      delete: async (tx: WriteTransaction, x: { type: string; id: string }) => { await tx.del(`${x.type}/${x.id}`); },
      increment: async (tx: WriteTransaction, x: { type: string; id: string; field: string; by: number }) => {
        const cur = ((await tx.get(`${x.type}/${x.id}`)) ?? {}) as Record<string, number>;
        await tx.set(`${x.type}/${x.id}`, { ...cur, [x.field]: (cur[x.field] ?? 0) + x.by });
      },
    };
    const rep = new Replicache<typeof mutators>({ name: `node-${Date.now()}`, kvStore: 'mem', pullInterval: null, pushDelay: 0, mutators, licenseKey: '' } as any);
    const group = await rep.clientGroupID;
    const reg = await fetch(`${base}/api/register`, { method: 'POST', body: JSON.stringify({ clientGroupID: group }) });
    rep.auth = `Bearer ${((await reg.json()) as { token: string }).token}`;
    // The URLs go in after the token: a pull sent before it would be a (harmless, logged) 401.
    rep.pullURL = `${base}/api/replicache/pull`;
    rep.pushURL = `${base}/api/replicache/push`;
    await rep.mutate.increment({ type: 'review', id: 'pr-1', field: 'votes', by: 10 });
    await rep.mutate.upsert({ type: 'comment', id: 'from-node', data: { review: 'pr-1', body: 'From a stock Replicache client', by: 'node', at: 1 } });
    for (let i = 0; i < 50; i++) {
      await rep.pull({ now: true } as any).catch(() => {});
      const votes = (await rep.query((tx) => tx.get('review/pr-1')) as { votes?: number } | undefined)?.votes;
      if (votes === 17) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const review = (await rep.query((tx) => tx.get('review/pr-1'))) as { votes: number; status: string };
    const s = await converge(a, b, (x) => x.votes === 17 && x.comments.includes('From a stock Replicache client'));
    expect(s.votes).toBe(17);
    expect(review.votes).toBe(17);
    expect(review.status).toBe(s.status);
    expect(s.comments).toContain('From a stock Replicache client');
    await rep.close();
  });

  it('lets one tab own the database: a second tab waits, and takes over when the first closes', async () => {
    const second = await ctxA.newPage();
    await second.goto(demoURL());
    await second.waitForSelector('#waiting', { timeout: 30_000 });
    const votes = await text(a, '#votes');
    await a.close();
    await second.waitForSelector('#status', { timeout: 60_000 });
    await expect.poll(() => text(second, '#votes')).toBe(votes);
    a = second;
  });

  it('syncs through the TanStack Start server functions too', async () => {
    const ctxC = await browser!.newContext();
    const c = await ctxC.newPage();
    await c.goto(demoURL('&transport=serverfn'));
    await c.waitForSelector('#status', { timeout: 60_000 });
    const before = Number(await text(a, '#votes'));
    await expect.poll(() => text(c, '#votes'), { timeout: 30_000 }).toBe(String(before));
    await c.click('#vote');
    await expect.poll(() => text(c, '#pending'), { timeout: 30_000 }).toBe('0');
    await expect.poll(() => text(a, '#votes'), { timeout: 30_000 }).toBe(String(before + 1));
    await ctxC.close();
  });

  it('recovers from a lost token (localStorage cleared, IndexedDB kept): a new client group, pending edits kept', async () => {
    const ctxD = await browser!.newContext();
    const d = await openDemo(ctxD);
    await expect.poll(() => text(d, '#pending'), { timeout: 30_000 }).toBe('0');
    await d.click('#offline-switch');
    await expect.poll(() => text(d, '#online')).toContain('offline');
    await d.fill('#new-comment', 'Kept across a lost token');
    await d.click('#add-comment');
    await expect.poll(() => text(d, '#pending')).toBe('1');
    // The token goes; the offline switch (and IndexedDB with the queued comment) stays.
    await d.evaluate(() => { for (const k of Object.keys(localStorage)) if (k.startsWith('lockstep-token:')) localStorage.removeItem(k); });
    await d.reload();
    await d.waitForSelector('#status', { timeout: 60_000 });
    await d.click('#offline-switch');
    await expect.poll(async () => (await comments(a)).includes('Kept across a lost token'), { timeout: 30_000 }).toBe(true);
    await expect.poll(() => text(d, '#pending'), { timeout: 30_000 }).toBe('0');
    expect((await comments(d)).filter((c) => c === 'Kept across a lost token')).toHaveLength(1);
    await ctxD.close();
  });

  it('checks size and token of a server function call before parsing its body', async () => {
    const headers = { 'content-type': 'application/json', origin: base, 'sec-fetch-site': 'same-origin' };
    const bogus = await fetch(`${base}/_serverFn/anything`, { method: 'POST', headers: { ...headers, authorization: 'Bearer bogus' }, body: '{"x":"' + 'y'.repeat(500) + '"}' });
    expect(bogus.status).toBe(401);
    const huge = await fetch(`${base}/_serverFn/anything`, { method: 'POST', headers: { ...headers, authorization: 'Bearer bogus' }, body: 'x'.repeat(20_000_000) });
    expect(huge.status).toBe(413);
    const mine = ((await (await fetch(`${base}/api/register`, { method: 'POST', body: JSON.stringify({ clientGroupID: 'serverfn-big' }) })).json()) as { token: string }).token;
    const big = await fetch(`${base}/_serverFn/anything`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${mine}` }, body: 'x'.repeat(3_000_000) });
    expect(big.status).toBe(413);
  });

  it('authenticates the poke stream', async () => {
    expect((await fetch(`${base}/api/poke`)).status).toBe(401);
  });

  it('refuses a push with a foreign or missing token and writes nothing', async () => {
    const before = ((await (await fetch(`${base}/api/health`)).json()) as { version: number }).version;
    const mine = ((await (await fetch(`${base}/api/register`, { method: 'POST', body: JSON.stringify({ clientGroupID: 'attacker-group' }) })).json()) as { token: string }).token;
    const victimGroup = await a.evaluate(() => Object.keys(localStorage).find((k) => k.startsWith('lockstep-token:'))!.slice('lockstep-token:'.length));
    const push = { pushVersion: 1, clientGroupID: victimGroup, profileID: 'x', schemaVersion: '1', mutations: [{ clientID: 'evil', id: 1, name: 'upsert', args: { type: 'review', id: 'pr-1', data: { status: 'pwned' } }, timestamp: 1 }] };
    const foreign = await fetch(`${base}/api/replicache/push`, { method: 'POST', headers: { authorization: `Bearer ${mine}` }, body: JSON.stringify(push) });
    expect(foreign.status).toBe(403);
    const missing = await fetch(`${base}/api/replicache/push`, { method: 'POST', body: JSON.stringify(push) });
    expect(missing.status).toBe(401);
    const huge = await fetch(`${base}/api/replicache/push`, { method: 'POST', headers: { authorization: `Bearer ${mine}` }, body: 'x'.repeat(2_000_000) });
    expect(huge.status).toBe(413);
    const after = ((await (await fetch(`${base}/api/health`)).json()) as { version: number }).version;
    expect(after).toBe(before);
    expect(await text(a, '#review-status')).not.toBe('pwned');
  });

  it('on SIGTERM drains, closes the database and exits 0 with browsers still connected', async () => {
    const exited = new Promise<number | null>((r) => server!.once('exit', (code) => r(code)));
    server!.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(serverOut).toContain('lockstep: SIGTERM, draining');
    expect(serverOut).toContain('lockstep: stopped');
    // The browsers' open poke streams and keep-alive sockets end with the drain, not by the timeout.
    expect(serverErr).not.toContain('drain took over');
    server = undefined;
  });
});
