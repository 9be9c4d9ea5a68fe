import { createRegistry, ProtocolError, type EntityData, type JSONValue, type Mutation, type MutatorRegistry } from '../protocol/index.ts';
import type { Db } from '../db/types.ts';
import { ClientDatabase, type ClientMeta, type EntityChange, type EntityRow, type QuerySpec } from './client-database.ts';
import { cryptoIds, mathRandom, realTimer, systemClock, type Clock, type Ids, type Random, type Timer, type Transport } from '../seams/index.ts';
import { Emitter } from './emitter.ts';
import { SyncLoop, type SyncLoopOptions } from './sync-loop.ts';

export interface EngineOptions {
  db: Db;
  transport: Transport;
  /** Postgres schema for this client's tables; one per client lets many share one PGlite. */
  schema?: string;
  clock?: Clock;
  ids?: Ids;
  timer?: Timer;
  random?: Random;
  mutators?: MutatorRegistry;
  /** Used only when the store is new; an existing store keeps its identity. */
  clientGroupID?: string;
  /** Most mutations one push request carries. */
  pushBatchSize?: number;
  schemaVersion?: string;
  profileID?: string;
  /** Builds the client store; the simulator's planted-bug variants swap in a subclass here. */
  createStore?: (db: Db, schema: string, registry: MutatorRegistry) => ClientDatabase;
}

export interface SyncState {
  clientID: string;
  clientGroupID: string;
  /** The server version this client has pulled up to (null before the first pull). */
  cookie: number | null;
  lastSyncedVersion: number | null;
  /** The highest of this client's mutation ids the server has acknowledged. */
  lastMutationID: number;
  pendingCount: number;
  online: boolean;
  syncing: boolean;
  lastError: string | null;
}

/**
 * The client: optimistic local writes on a durable queue, push, pull with rebase, queries and
 * subscriptions. All time, ids and I/O come through seams so the simulator can drive it.
 */
export class PersistentSyncEngine {
  readonly clientID: string;
  readonly clientGroupID: string;
  readonly store: ClientDatabase;
  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly pushBatchSize: number;
  private readonly schemaVersion: string;
  private readonly profileID: string;
  private readonly loop: SyncLoop;
  private readonly stateListeners = new Emitter<SyncState>();
  private readonly errorListeners = new Emitter<Error>();
  private readonly entityListeners = new Emitter<EntityChange>();
  private online = true;
  /** Highest mutation id a push of this engine instance delivered (the server answered 200). */
  private pushedUpTo = 0;
  private syncing = 0;
  private lastError: string | null = null;
  private closed = false;

  private constructor(options: EngineOptions, store: ClientDatabase, meta: ClientMeta) {
    this.store = store;
    this.clientID = meta.clientID;
    this.clientGroupID = meta.clientGroupID;
    this.transport = options.transport;
    this.clock = options.clock ?? systemClock;
    this.pushBatchSize = options.pushBatchSize ?? 100;
    this.schemaVersion = options.schemaVersion ?? '1';
    this.profileID = options.profileID ?? meta.clientGroupID;
    this.loop = new SyncLoop({
      timer: options.timer ?? realTimer,
      random: options.random ?? mathRandom,
      run: () => this.syncOnce(),
      onError: (e) => this.reportError(e),
    });
  }

  static async open(options: EngineOptions): Promise<PersistentSyncEngine> {
    const ids = options.ids ?? cryptoIds;
    const create = options.createStore ?? ((db, schema, registry) => new ClientDatabase(db, schema, registry));
    const store = create(options.db, options.schema ?? 'lockstep', createRegistry(options.mutators));
    const meta = await store.open(() => ({ clientID: ids.newId('c'), clientGroupID: options.clientGroupID ?? ids.newId('g') }));
    return new PersistentSyncEngine(options, store, meta);
  }

  // ---- local writes -------------------------------------------------------------------------

  upsert(type: string, id: string, data: EntityData): Promise<Mutation> {
    return this.mutate('upsert', { type, id, data });
  }

  delete(type: string, id: string): Promise<Mutation> {
    return this.mutate('delete', { type, id });
  }

  increment(type: string, id: string, field: string, by = 1): Promise<Mutation> {
    return this.mutate('increment', { type, id, field, by });
  }

  /** Runs a registered mutator locally (visible at once) and queues it for the server. */
  async mutate(name: string, args: JSONValue): Promise<Mutation> {
    this.assertOpen();
    const { mutation, changes } = await this.store.mutate(name, args, this.clock.now());
    for (const c of changes) this.entityListeners.emit(c);
    await this.emitState();
    this.loop.poke();
    return mutation;
  }

  // ---- reads --------------------------------------------------------------------------------

  query(spec: QuerySpec = {}): Promise<EntityRow[]> {
    return this.store.query(spec);
  }

  async get(type: string, id: string): Promise<EntityData | undefined> {
    return (await this.store.query({ type, id }))[0]?.data;
  }

  visibleEntities(): Promise<Map<string, EntityData>> {
    return this.store.visibleMap();
  }

  /** Snapshot + pending replayed, computed independently of the stored visible state (for checkers). */
  expectedVisible(): Promise<Map<string, EntityData>> {
    return this.store.expectedVisible();
  }

  pendingMutations(): Promise<Mutation[]> {
    return this.store.pendingMutations();
  }

  async getState(): Promise<SyncState> {
    const meta = (await this.store.readMeta())!;
    return {
      clientID: this.clientID,
      clientGroupID: this.clientGroupID,
      cookie: meta.cookie,
      lastSyncedVersion: meta.cookie,
      lastMutationID: meta.lastMutationID,
      pendingCount: await this.store.pendingCount(),
      online: this.online,
      syncing: this.syncing > 0,
      lastError: this.lastError,
    };
  }

  // ---- sync ---------------------------------------------------------------------------------

  /** Sends pending mutations (up to the batch size). Returns how many were sent. Throws on failure. */
  async push(): Promise<number> {
    this.assertOpen();
    // A 200 means the server holds every mutation of that push, so the next push starts after
    // it even before a pull drops them; without this, 100 pending already-pushed mutations
    // would fill every batch until the next pull. A restart starts from 0 and resends (skipped).
    const pending = await this.store.pendingMutations(this.pushBatchSize, undefined, this.pushedUpTo);
    if (pending.length === 0) return 0;
    await this.tracked(() =>
      this.transport.push({
        pushVersion: 1,
        clientGroupID: this.clientGroupID,
        profileID: this.profileID,
        schemaVersion: this.schemaVersion,
        mutations: pending,
      }),
    );
    this.pushedUpTo = Math.max(this.pushedUpTo, pending[pending.length - 1]!.id);
    return pending.length;
  }

  /**
   * One pull round trip, applied atomically with rebase. Returns whether the cookie moved
   * (if so there may be another page). ClientStateNotFound resets the cookie so the next
   * pull starts over from a full snapshot. Throws on failure.
   */
  async pull(): Promise<boolean> {
    this.assertOpen();
    const meta = (await this.store.readMeta())!;
    const base = meta.cookie;
    let resp;
    try {
      resp = await this.tracked(() =>
        this.transport.pull({ pullVersion: 1, clientGroupID: this.clientGroupID, cookie: base === null ? null : { order: base, epoch: meta.epoch ?? '' }, profileID: this.profileID, schemaVersion: this.schemaVersion }),
      );
    } catch (e) {
      // The server lost (or never had) our state: start over from a full snapshot; pending stays queued.
      if (e instanceof ProtocolError && e.body.error === 'ClientStateNotFound') await this.store.resetCookie();
      throw e;
    }
    const result = await this.store.applyPull(base, resp);
    for (const c of result.changes) this.entityListeners.emit(c);
    if (result.applied) await this.emitState();
    return result.applied && resp.cookie.order !== base;
  }

  /** Push everything pending, then pull until caught up (bounded). */
  async sync(maxPages = 100): Promise<void> {
    while ((await this.push()) === this.pushBatchSize) {
      /* more batches */
    }
    for (let i = 0; i < maxPages && (await this.pull()); i++) {
      /* next page */
    }
  }

  private async syncOnce(): Promise<void> {
    if (!this.online || this.closed) return;
    await this.sync();
    if (this.lastError !== null) {
      this.lastError = null;
      await this.emitState();
    }
  }

  /** Takes the client offline (no network I/O from the loop) or back online (syncs at once). */
  async setOnline(online: boolean): Promise<void> {
    this.online = online;
    await this.emitState();
    if (online) this.loop.poke();
  }

  /** Starts the background loop: sync now, then every intervalMs, never overlapping, backing off on errors. */
  start(options: Partial<SyncLoopOptions> = {}): void {
    this.assertOpen();
    this.loop.start(options);
  }

  /** Asks the loop for a sync soon (a poke from the server, or a local write). */
  requestSync(): void {
    this.loop.poke();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Stops the loop. The store (and its data) stays; reopening the same db+schema resumes. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.loop.stop();
    this.closed = true;
  }

  // ---- subscriptions ------------------------------------------------------------------------

  onStateChange(cb: (state: SyncState) => void): () => void {
    return this.stateListeners.on(cb);
  }
  onSyncError(cb: (error: Error) => void): () => void {
    return this.errorListeners.on(cb);
  }
  onEntityChange(cb: (change: EntityChange) => void): () => void {
    return this.entityListeners.on(cb);
  }

  // ---- internals ----------------------------------------------------------------------------

  private async tracked<T>(fn: () => Promise<T>): Promise<T> {
    this.syncing++;
    try {
      return await fn();
    } finally {
      this.syncing--;
    }
  }

  private reportError(e: unknown): void {
    const error = e instanceof Error ? e : new Error(String(e));
    this.lastError = error instanceof ProtocolError ? `${error.status} ${error.message}` : error.message;
    this.errorListeners.emit(error);
    void this.emitState().catch(() => {});
  }

  private async emitState(): Promise<void> {
    if (this.stateListeners.size === 0) return;
    this.stateListeners.emit(await this.getState());
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('engine is closed');
  }
}
