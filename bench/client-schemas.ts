/**
 * What client schemas cost in one shared PGlite (the simulator's clients' instance): for N
 * clients (default 1,000), each opened, written twice (an upsert, an increment), pulled once and
 * queried by type, the CPU, the growth of PostgreSQL's wasm memory, the in-memory files, RSS, and
 * PostgreSQL's largest memory contexts. Run: npx tsx bench/client-schemas.ts [clients].
 */
import { openSimPglite } from '../src/sim/sim-db-pglite.ts';
import { ClientDatabase } from '../src/engine/client-database.ts';
import { createRegistry, type CookieObject, type PatchOp } from '../src/protocol/index.ts';

const n = Number(process.argv[2] ?? 1000);
if (!Number.isInteger(n) || n < 1) throw new Error(`clients must be a positive integer, got ${process.argv[2]}`);
const db = await openSimPglite();
const mod = (db.pg as unknown as { Module: { wasmMemory: WebAssembly.Memory; FS: { root: unknown } } }).Module;

/** Bytes the in-memory file system holds (used) and has allocated (capacity). */
function files(): { files: number; usedMB: number; capMB: number } {
  let count = 0, used = 0, cap = 0;
  const walk = (node: { contents?: unknown; usedBytes?: number } | undefined) => {
    if (!node) return;
    if (node.contents instanceof Uint8Array) {
      count++;
      used += node.usedBytes ?? 0;
      cap += node.contents.length;
    } else if (node.contents && typeof node.contents === 'object') for (const child of Object.values(node.contents)) walk(child as typeof node);
  };
  walk(mod.FS.root as Parameters<typeof walk>[0]);
  return { files: count, usedMB: Math.round(used / 1e6), capMB: Math.round(cap / 1e6) };
}

const wasm0 = mod.wasmMemory.buffer.byteLength;
const files0 = files();
const c0 = process.cpuUsage();
for (let i = 0; i < n; i++) {
  const c = new ClientDatabase(db, `c${i}`, createRegistry());
  await c.open(() => ({ clientID: `id${i}`, clientGroupID: `g${i}` }));
  await c.mutate('upsert', { type: 'doc', id: 'd1', data: { v: i } }, 1);
  await c.mutate('increment', { type: 'cnt', id: 'c1', field: 'n', by: 1 }, 2);
  const patch: PatchOp[] = [{ op: 'put', key: 'doc/d1', value: { v: i } }];
  await c.applyPull(null, { cookie: { order: 5, epoch: 'e' } as CookieObject, lastMutationIDChanges: { [`id${i}`]: 1 }, patch });
  await c.query({ type: 'doc' });
}
const cpu = process.cpuUsage(c0);
const contexts = await db.query<{ name: string; n: number; mb: string }>(
  `SELECT name, count(*)::int AS n, round(sum(total_bytes) / 1e6, 1)::text AS mb FROM pg_backend_memory_contexts GROUP BY 1 ORDER BY sum(total_bytes) DESC LIMIT 6`,
);
const after = files();
console.log(JSON.stringify({
  clients: n,
  'cpu s': +((cpu.user + cpu.system) / 1e6).toFixed(1),
  'wasm growth MB': Math.round((mod.wasmMemory.buffer.byteLength - wasm0) / 1e6),
  'files added': after.files - files0.files,
  'file MB added': after.usedMB - files0.usedMB,
  'RSS MB': Math.round(process.memoryUsage().rss / 1e6),
  'peak RSS MB': Math.round(process.resourceUsage().maxRSS / 1024),
}));
console.table(contexts.rows);
await db.close();
