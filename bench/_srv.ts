import { createSyncServer } from '../src/server/index.ts';
const main = await createSyncServer();
let writerNext = 1;
const upTo = 100000;
while (writerNext <= upTo) {
  const n = Math.min(500, upTo - writerNext + 1);
  const mutations = Array.from({ length: n }, (_, i) => { const k = writerNext + i; return { clientID: 'writer', id: k, name: 'upsert', timestamp: k, args: { type: 'item', id: `i${String(k).padStart(6, '0')}`, data: { n: k, title: `item ${k}`, body: 'a comment of a few words, as a review tool has' } } }; });
  await main.database.push({ pushVersion: 1, clientGroupID: 'gw', profileID: 'p', schemaVersion: '1', mutations });
  writerNext += n;
}
for (let rep = 0; rep < 3; rep++) {
  let cookie: any = null; let tPull = 0, tJson = 0, bytes = 0, pages = 0;
  const c0 = process.cpuUsage();
  for (;;) {
    const t = performance.now();
    const r: any = await main.database.pull({ pullVersion: 1, clientGroupID: 'gw', cookie, profileID: 'p', schemaVersion: '1' } as any);
    const t1 = performance.now();
    const s = JSON.stringify(r);
    tPull += t1 - t; tJson += performance.now() - t1; bytes += s.length; pages++;
    if (r.patch.length === 0) break;
    cookie = r.cookie;
  }
  const c = process.cpuUsage(c0);
  console.log(`pages ${pages} pull ${tPull.toFixed(0)} ms stringify ${tJson.toFixed(0)} ms bytes ${bytes} cpu ${((c.user+c.system)/1e3).toFixed(0)} ms`);
}
process.exit(0);
