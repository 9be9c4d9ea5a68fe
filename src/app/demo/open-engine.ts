import { PGliteDb } from '../../db/pglite.ts';
import type { Db } from '../../db/types.ts';
import { PersistentSyncEngine } from '../../engine/index.ts';
import { fetchTransport } from '../../engine/transports/fetch-json.ts';
import { serverFnTransport } from '../../engine/transports/server-fn.ts';
import { ProtocolError } from '../../protocol/index.ts';
import type { Transport } from '../../seams/index.ts';
import { pullChanges, pushChanges } from '../server-fns.ts';
import { TokenKeeper } from './token-keeper.ts';

const DB_NAME = 'idb://lockstep-demo';

export interface BrowserSession {
  /** The current engine; replaced when the client moves to a new client group. */
  engine: PersistentSyncEngine;
  onEngineChange(cb: (engine: PersistentSyncEngine) => void): () => void;
  close(): Promise<void>;
}

/** Which schema of the IndexedDB database holds the current client (it changes on a move to a new group). */
async function activeSchema(db: Db): Promise<string> {
  await db.exec(`CREATE SCHEMA IF NOT EXISTS demo; CREATE TABLE IF NOT EXISTS demo.active (one int PRIMARY KEY DEFAULT 1 CHECK (one = 1), schema text NOT NULL)`);
  const r = await db.query<{ schema: string }>(`SELECT schema FROM demo.active`);
  return r.rows[0]?.schema ?? 'lockstep';
}

/**
 * Opens the browser engine: PGlite persisted to IndexedDB, a transport with the client group's
 * token (see TokenKeeper), the sync loop with a slow poll, and pokes from the server's event
 * stream. When the group's token is lost for good (409 on register), the session moves to a new
 * client group in a fresh schema, re-queues the old client's pending mutations there (adopt, with
 * their origins), and drops the old schema.
 */
export async function openBrowserEngine(): Promise<BrowserSession> {
  const db = await PGliteDb.open(DB_NAME);
  // ?transport=serverfn syncs through the TanStack Start server functions instead of the JSON routes.
  const params = new URLSearchParams(location.search);
  const viaServerFns = params.get('transport') === 'serverfn';
  // ?pollSeconds=N sets the slow poll (default 15; tests raise it to prove that pokes carry changes).
  const pollSeconds = Number(params.get('pollSeconds'));
  const pollMs = (Number.isFinite(pollSeconds) && pollSeconds > 0 ? pollSeconds : 15) * 1000;
  const listeners = new Set<(engine: PersistentSyncEngine) => void>();
  let events: EventSource | undefined;
  let moving: Promise<void> | undefined;
  let closed = false;

  const open = async (schema: string) => {
    let engine: PersistentSyncEngine | undefined;
    // Created once the engine knows its client group; the transport asks for the token only when syncing.
    let keeper!: TokenKeeper;
    const token = () => keeper.get();
    const bearer = async () => ({ authorization: `Bearer ${await token()}` });
    const inner = viaServerFns
      ? serverFnTransport(
          {
            pushChanges: async ({ data }) => pushChanges({ data: data.request, headers: await bearer() }),
            pullChanges: async ({ data }) => pullChanges({ data: data.request, headers: await bearer() }),
          },
          token,
        )
      : fetchTransport({ baseURL: '', token });
    // The page asked for ahead too: without it a catch-up asks for its pages one at a time.
    const transport: Transport = { push: (req) => keeper.wrap(inner).push(req), pull: (req) => keeper.wrap(inner).pull(req), ...(inner.pullAhead ? { pullAhead: (req) => keeper.wrap(inner).pullAhead!(req) } : {}) };
    engine = await PersistentSyncEngine.open({ db, schema, transport });
    keeper = new TokenKeeper(engine.clientGroupID, () => void moveToNewGroup());
    // The engine starts over when the server lost our state; a server that did usually lost our token too.
    engine.onSyncError((e) => {
      if (e instanceof ProtocolError && e.body.error === 'ClientStateNotFound') void keeper.refresh().then(() => engine!.requestSync());
    });
    // The offline switch survives a reload, like the pending mutations do.
    if (localStorage.getItem('lockstep-offline') === '1') await engine.setOnline(false);
    engine.start({ intervalMs: pollMs, pokeDelayMs: 20, backoffBaseMs: 500, backoffMaxMs: 10_000 });
    // The session's engine before the poke stream: listen() drops the stream of an engine that is no
    // longer current, and a stored token answers at once, before open() returns (after every reload,
    // the stream was never opened and changes arrived only with the slow poll).
    session.engine = engine;
    void listen(keeper, engine);
  };

  /** Pokes need the token too (EventSource cannot set headers: it goes in the query). */
  const listen = async (keeper: TokenKeeper, engine: PersistentSyncEngine) => {
    events?.close();
    let token: string;
    try {
      token = await keeper.get();
    } catch {
      setTimeout(() => !closed && session.engine === engine && void listen(keeper, engine), 5_000);
      return;
    }
    if (closed || session.engine !== engine) return;
    const source = new EventSource(`/api/poke?token=${encodeURIComponent(token)}`);
    events = source;
    source.addEventListener('poke', () => engine.requestSync());
    // A refused or dropped stream (401, 503, a slow reader) is not retried by EventSource itself.
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) setTimeout(() => !closed && events === source && void listen(keeper, engine), 5_000);
    });
  };

  const moveToNewGroup = () => {
    moving ??= (async () => {
      const old = session.engine;
      await old.stop();
      const pending = await old.pendingMutations();
      await old.close();
      const schema = `lockstep_${Date.now().toString(36)}`;
      const next = await PersistentSyncEngine.open({ db, schema, transport: { push: async () => ({}), pull: async () => { throw new Error('unused'); } } });
      // Re-queue what the old client had not had acknowledged, as the new client's mutations that
      // remember their old identities (origins): one the server applied but whose answer was
      // lost is then skipped, not applied twice.
      for (const m of pending) await next.adopt(m);
      await next.close();
      await db.transaction(async (tx) => {
        await tx.query(`INSERT INTO demo.active (one, schema) VALUES (1, $1) ON CONFLICT (one) DO UPDATE SET schema = $1`, [schema]);
        await tx.query(`DROP SCHEMA IF EXISTS "${old.store.schema}" CASCADE`);
      });
      if (closed) return;
      await open(schema);
      for (const l of listeners) l(session.engine);
      // The offline switch may have been flipped on the old engine while the move ran.
      await session.engine.setOnline(localStorage.getItem('lockstep-offline') !== '1');
    })().finally(() => (moving = undefined));
  };

  const session: BrowserSession = {
    engine: undefined as unknown as PersistentSyncEngine,
    onEngineChange(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    async close() {
      closed = true;
      await moving?.catch(() => {});
      events?.close();
      await session.engine.close();
      await db.close();
    },
  };
  // open() makes its engine the session's (before the poke stream starts).
  await open(await activeSchema(db));
  return session;
}
