import { useEffect, useState } from 'react';
import type { EntityRow, QuerySpec } from '../client-database.ts';
import { loadingState, watchQuery, type LiveQueryState } from '../live-query.ts';
import type { PersistentSyncEngine, SyncState } from '../persistent-sync-engine.ts';

/**
 * A live query with its status: 'loading' until its first answer (so a screen can tell "not yet"
 * from "none"), then 'ready', or 'error' with the last rows it had. Re-runs when entities of its
 * type change (coalesced: see watchQuery); stops on unmount or when the engine or spec changes.
 */
export function useLiveQueryState(engine: PersistentSyncEngine | null, spec: QuerySpec): LiveQueryState {
  const [state, setState] = useState<LiveQueryState>(loadingState);
  const key = JSON.stringify(spec);
  useEffect(() => {
    // A new engine or spec shows loading, not the rows of the old one.
    setState(loadingState);
    if (!engine) return;
    return watchQuery(engine, JSON.parse(key) as QuerySpec, setState);
  }, [engine, key]);
  return state;
}

/** A live query's rows ([] while loading: useLiveQueryState tells the two apart). */
export function useLiveQuery(engine: PersistentSyncEngine | null, spec: QuerySpec): EntityRow[] {
  return useLiveQueryState(engine, spec).rows;
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
