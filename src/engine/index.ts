export { PersistentSyncEngine, type EngineOptions, type MutationFailure, type ResetEvent, type SyncState } from './persistent-sync-engine.ts';
export { ClientDatabase, MutationRejectedError, type ClientMeta, type EntityChange, type EntityRow, type IdentityReset, type QuerySpec } from './client-database.ts';
export { SyncLoop, type SyncLoopOptions } from './sync-loop.ts';
export { watchQuery, loadingState, type LiveQueryState, type QuerySource, type WatchOptions } from './live-query.ts';
export * from '../seams/index.ts';
