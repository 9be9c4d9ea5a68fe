import { afterAll, beforeAll, expect, it } from 'vitest';
import { PGliteDb } from '../db/pglite.ts';
import { TransportError } from '../protocol/index.ts';
import { uniqueSchema } from '../../test/support/stores.ts';
import { PersistentSyncEngine } from './index.ts';
import type { SyncState } from './persistent-sync-engine.ts';

let db: PGliteDb;
beforeAll(async () => {
  db = await PGliteDb.open();
});
afterAll(async () => {
  await db.close();
});

/**
 * Swarm with wide.appReads (an app subscribed to onStateChange, as useSyncState is): after a
 * failed sync the engine read and emitted its state in a promise nobody awaited, beside the
 * loop's next wait and run (the simulator: "task c7:sync-loop re-entered lock client-db"; replay
 * scenarios/regressions/state-after-sync-error.json). The state after an error belongs to the
 * loop's run: it is emitted before the loop waits again.
 */
it('emits the state after a sync error before the loop waits again', async () => {
  const failing = { push: async () => { throw new TransportError('down'); }, pull: async () => { throw new TransportError('down'); } };
  const events: string[] = [];
  let waits = 0;
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  const engine = await PersistentSyncEngine.open({
    db,
    schema: uniqueSchema('state_err'),
    transport: failing,
    ids: { newId: (p) => `${p}-${Math.random().toString(36).slice(2)}` },
    timer: {
      sleep: async (ms, signal) => {
        events.push(`wait ${++waits}`);
        if (waits >= 3) stop();
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 1);
          signal?.addEventListener('abort', () => (clearTimeout(t), resolve()));
        });
      },
    },
  });
  engine.onStateChange((s: SyncState) => events.push(`state ${s.lastError ? 'error' : 'ok'}`));
  engine.start({ intervalMs: 1, pokeDelayMs: 1, backoffBaseMs: 1, backoffMaxMs: 2 });
  engine.requestSync();
  await stopped;
  await engine.close();
  // The loop runs at once (no wait before the first run), fails, and waits: its state comes first.
  expect(events.slice(0, 2)).toEqual(['state error', 'wait 1']);
});
