import { useEffect, useState } from 'react';
import type { EntityRow, QuerySpec } from '../client-database.ts';
import type { PersistentSyncEngine, SyncState } from '../persistent-sync-engine.ts';

/** A live query: re-runs when any entity of the engine changes, unsubscribes on unmount. */
export function useLiveQuery(engine: PersistentSyncEngine | null, spec: QuerySpec): EntityRow[] {
  const [rows, setRows] = useState<EntityRow[]>([]);
  const key = JSON.stringify(spec);
  useEffect(() => {
    if (!engine) return;
    let alive = true;
    const run = () => {
      engine.query(JSON.parse(key) as QuerySpec).then((r) => alive && setRows(r), () => {});
    };
    run();
    const off = engine.onEntityChange((c) => {
      if (!spec.type || c.type === spec.type) run();
    });
    return () => {
      alive = false;
      off();
    };
  }, [engine, key]);
  return rows;
}

/** The engine's sync state (online, pending, last synced version), kept current. */
export function useSyncState(engine: PersistentSyncEngine | null): SyncState | null {
  const [state, setState] = useState<SyncState | null>(null);
  useEffect(() => {
    if (!engine) return;
    let alive = true;
    engine.getState().then((s) => alive && setState(s), () => {});
    const off = engine.onStateChange((s) => alive && setState(s));
    return () => {
      alive = false;
      off();
    };
  }, [engine]);
  return state;
}
