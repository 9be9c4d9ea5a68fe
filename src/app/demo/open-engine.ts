import { PGliteDb } from '../../db/pglite.ts';
import { PersistentSyncEngine } from '../../engine/index.ts';
import { fetchTransport, registerClientGroup } from '../../engine/transports/fetch-json.ts';
import { serverFnTransport } from '../../engine/transports/server-fn.ts';
import { pullChanges, pushChanges } from '../server-fns.ts';

const DB_NAME = 'idb://lockstep-demo';

/**
 * Opens the browser engine: PGlite persisted to IndexedDB, a fetch transport with the client
 * group's token (registered once, kept in localStorage), the sync loop with a slow poll, and
 * pokes from the server's event stream.
 */
export async function openBrowserEngine(): Promise<{ engine: PersistentSyncEngine; close: () => Promise<void> }> {
  const db = await PGliteDb.open(DB_NAME);
  let token: string | undefined;
  let engine: PersistentSyncEngine;
  const getToken = async () => {
    if (token) return token;
    const key = `lockstep-token:${engine.clientGroupID}`;
    token = localStorage.getItem(key) ?? undefined;
    if (!token) {
      token = await registerClientGroup('', engine.clientGroupID);
      localStorage.setItem(key, token);
    }
    return token;
  };
  // ?transport=serverfn syncs through the TanStack Start server functions instead of the JSON routes.
  const viaServerFns = new URLSearchParams(location.search).get('transport') === 'serverfn';
  const transport = viaServerFns ? serverFnTransport({ pushChanges, pullChanges }, getToken) : fetchTransport({ baseURL: '', token: getToken });
  engine = await PersistentSyncEngine.open({ db, transport });
  // The offline switch survives a reload, like the pending mutations do.
  if (localStorage.getItem('lockstep-offline') === '1') await engine.setOnline(false);
  engine.start({ intervalMs: 15_000, pokeDelayMs: 20, backoffBaseMs: 500, backoffMaxMs: 10_000 });
  const events = new EventSource('/api/poke');
  events.addEventListener('poke', () => engine.requestSync());
  return {
    engine,
    async close() {
      events.close();
      await engine.close();
      await db.close();
    },
  };
}
