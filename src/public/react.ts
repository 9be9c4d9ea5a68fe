/** `lockstep/react`: hooks over a PersistentSyncEngine (live queries, sync state). */
export { useLiveQuery, useLiveQueryState, useSyncState } from '../engine/react/hooks.ts';
