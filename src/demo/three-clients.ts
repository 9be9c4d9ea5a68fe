/**
 * The pre-simulator main job: three clients on one embedded PGlite (a schema each) edit the same
 * review while some are offline, then come online and converge. Prints what happened.
 */
import { PGliteDb } from '../db/pglite.ts';
import { PersistentSyncEngine } from '../engine/index.ts';
import { createSyncServer, foldLog, localTransport } from '../server/index.ts';

const server = await createSyncServer();
const clientDb = await PGliteDb.open();
const online = new Map<string, boolean>();
const names = ['ada', 'bob', 'cy'];
const engines = await Promise.all(
  names.map((name) => {
    online.set(name, true);
    return PersistentSyncEngine.open({ db: clientDb, schema: `client_${name}`, transport: localTransport(server, { online: () => online.get(name)! }) });
  }),
);
const [ada, bob, cy] = engines as [PersistentSyncEngine, PersistentSyncEngine, PersistentSyncEngine];
const log = (msg: string) => console.log(msg);

await ada.upsert('review', 'pr-1', { title: 'Add sync engine', status: 'open', votes: 0 });
await ada.sync();
for (const e of [bob, cy]) await e.sync();
log('ada created review/pr-1; everyone synced');

online.set('bob', false);
online.set('cy', false);
log('bob and cy go offline');
await bob.increment('review', 'pr-1', 'votes', 1);
await bob.upsert('comment', 'c1', { review: 'pr-1', body: 'LGTM', author: 'bob' });
await cy.increment('review', 'pr-1', 'votes', 1);
await cy.upsert('comment', 'c2', { review: 'pr-1', body: 'needs tests', author: 'cy' });
await ada.increment('review', 'pr-1', 'votes', 1);
await ada.sync();
log(`offline edits: bob +1 vote and a comment, cy +1 vote and a comment; ada (online) +1 vote`);
for (const e of [bob, cy]) {
  const st = await e.getState();
  log(`  ${names[engines.indexOf(e)]}: ${st.pendingCount} pending, sees votes=${(await e.get('review', 'pr-1'))?.votes}`);
}

online.set('bob', true);
online.set('cy', true);
log('bob and cy come back online');
for (const e of [bob, cy, ada, bob, cy]) await e.sync();

const serverState = await server.database.readEntities();
const fold = foldLog(await server.database.readLog());
const same = (a: Map<string, unknown>, b: Map<string, unknown>) => JSON.stringify([...a]) === JSON.stringify([...b]);
let converged = same(serverState, fold);
for (const [i, e] of engines.entries()) {
  const vis = await e.visibleEntities();
  const st = await e.getState();
  const ok = same(vis, serverState);
  converged &&= ok;
  log(`  ${names[i]}: cookie=${st.cookie} pending=${st.pendingCount} votes=${(await e.get('review', 'pr-1'))?.votes} ${ok ? 'matches server' : 'DIFFERS from server'}`);
}
log(`server: version ${await server.database.version()}, ${serverState.size} entities, votes=${serverState.get('review/pr-1')?.votes} (three increments, all counted)`);
log(converged ? 'converged: every client == server entities == fold of the replication log' : 'NOT CONVERGED');
await clientDb.close();
await server.close();
process.exit(converged ? 0 : 1);
