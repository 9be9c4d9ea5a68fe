export { PersistentSyncEngine, type EngineOptions, type SyncState } from './persistent-sync-engine.ts';
export { ClientDatabase, type ClientMeta, type EntityChange, type EntityRow, type QuerySpec } from './client-database.ts';
export { SyncLoop, type SyncLoopOptions } from './sync-loop.ts';
export * from '../seams/index.ts';
