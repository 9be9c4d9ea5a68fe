import { z } from 'zod';
import { createRegistry, defaultLimits, encodedBytes, ProtocolError, requeuedOrigins, retryAfterOf, type EntityData, type JSONValue, type Limits, type Mutation, type MutatorRegistry, type PullRequest, type PullResponseOK, type PushRequest } from '../protocol/index.ts';
import type { Db } from '../db/types.ts';
import { ClientDatabase, defaultApplyChunkBytes, type ClientMeta, type EntityChange, type EntityRow, type IdentityReset, type QuerySpec } from './client-database.ts';
import type { SimulationHooks } from './simulation.ts';
import { cryptoIds, mathRandom, maxTimerMs, realTimer, systemClock, untilAborted, type Clock, type Ids, type Random, type Timer, type Transport } from '../seams/index.ts';
import { Emitter } from './emitter.ts';
import { DocumentCache, defaultDocumentCacheEntries } from './document-cache.ts';
import { SyncLoop, type SyncLoopOptions } from './sync-loop.ts';
import { DeferredWrites, defaultDeferredLimits, type FlushedWrite } from './deferred-writes.ts';

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
  /** Most mutations one push request carries (default 100, at most 1000: the server's cap). */
  pushBatchSize?: number;
  /** Most encoded bytes one push request carries (default 512 KiB, under the server's 1 MB body limit); a bigger single mutation goes alone. */
  maxPushBytes?: number;
  /** Most pull round trips one sync makes while the cookie keeps moving (default 100). */
  maxPages?: number;
  /** Most JSON (characters) one statement of a pull's apply writes; a page goes in chunks of it (default 256 KiB, see ClientDatabase.applyChunkBytes). */
  applyChunkBytes?: number;
  /** Most documents kept in memory for local writes' mutators to read (default 1,000; 0: off; see DocumentCache). */
  documentCacheEntries?: number;
  /**
   * 'durable' (default): mutate resolves once the write is committed. 'deferred' (Replicache-like,
   * see DeferredWrites): mutate resolves once the mutator ran in memory and its effects are
   * visible to this engine; writes are stored in one statement per flush, at most flushIntervalMs
   * later. A crash loses the unflushed writes (onFlushed / flush() say which are durable).
   */
  durability?: 'durable' | 'deferred';
  /** Deferred mode: most ms from the first unflushed write to its flush (default 50). */
  flushIntervalMs?: number;
  /** Deferred mode: most unflushed writes; the next write waits for a flush (default 1,000). */
  maxUnflushedWrites?: number;
  /** Deferred mode: most bytes (args and written documents, JSON) unflushed; the next write waits for a flush (default 1 MiB). */
  maxUnflushedBytes?: number;
  /** Args and document limits checked before a write is queued (defaults: defaultLimits). */
  limits?: Partial<Limits>;
  schemaVersion?: string;
  profileID?: string;
  /** For the simulator's planted bugs and checkers only (see simulation.ts). */
  simulation?: SimulationHooks;
}

const positiveInt = z.number().int().positive();
const engineLimitsSchema = z.object({
  pushBatchSize: positiveInt.max(1000),
  maxPushBytes: positiveInt,
  maxPages: positiveInt,
  applyChunkBytes: positiveInt,
  documentCacheEntries: z.number().int().nonnegative(),
  maxDocumentBytes: positiveInt,
  maxArgsBytes: positiveInt,
  maxDepth: positiveInt,
  flushIntervalMs: z.number().int().nonnegative().max(maxTimerMs),
  maxUnflushedWrites: positiveInt,
  maxUnflushedBytes: positiveInt,
});
type EngineLimits = z.infer<typeof engineLimitsSchema>;

/** Validated limits with their defaults; a bad value is a clear error at open. */
function engineLimits(o: EngineOptions): EngineLimits {
  const r = engineLimitsSchema.safeParse({
    pushBatchSize: o.pushBatchSize ?? 100,
    maxPushBytes: o.maxPushBytes ?? 512 * 1024,
    maxPages: o.maxPages ?? 100,
    applyChunkBytes: o.applyChunkBytes ?? defaultApplyChunkBytes,
    documentCacheEntries: o.documentCacheEntries ?? defaultDocumentCacheEntries,
    flushIntervalMs: o.flushIntervalMs ?? defaultDeferredLimits.flushIntervalMs,
    maxUnflushedWrites: o.maxUnflushedWrites ?? defaultDeferredLimits.maxUnflushedWrites,
    maxUnflushedBytes: o.maxUnflushedBytes ?? defaultDeferredLimits.maxUnflushedBytes,
    ...defaultLimits,
    ...Object.fromEntries(Object.entries(o.limits ?? {}).filter(([, v]) => v !== undefined)),
  });
  if (!r.success) throw new Error(`invalid engine options: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** A mutation the server recorded as failed: it will not be retried, and it has no effect. */
export interface MutationFailure {
  clientID: string;
  id: number;
  /** The mutator's name, when this engine still knew the mutation. */
  name?: string;
  error: string;
}

/** The server lost this client's state; the engine took a new client id (see ClientDatabase.resetIdentity). */
export interface ResetEvent extends IdentityReset {
  /** Which request got ClientStateNotFound. */
  reason: 'push' | 'pull';
}

function isClientStateNotFound(e: unknown): e is ProtocolError {
  return e instanceof ProtocolError && e.body.error === 'ClientStateNotFound';
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
  /** The last sync failure, or the last mutation the server recorded as failed; cleared by a clean sync. */
  lastError: string | null;
  /** The last time the server lost this client's state and the engine started over (the app re-registers then). */
  lastReset: { previousClientID: string; clientID: string; reason: 'push' | 'pull' } | null;
  /** Deferred mode only: local writes not stored yet (a crash would lose them; pendingCount counts stored ones). */
  unflushedCount?: number;
}

/**
 * The client: optimistic local writes on a durable queue, push, pull with rebase, queries and
 * subscriptions. All time, ids and I/O come through seams so the simulator can drive it.
 */
export class PersistentSyncEngine {
  readonly clientGroupID: string;
  readonly store: ClientDatabase;
  private currentClientID: string;
  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly ids: Ids;
  private readonly limits: EngineLimits;
  private readonly schemaVersion: string;
  private readonly profileID: string;
  private readonly loop: SyncLoop;
  private readonly stateListeners = new Emitter<SyncState>();
  private readonly errorListeners = new Emitter<Error>();
  private readonly entityListeners = new Emitter<EntityChange>();
  private readonly mutationErrorListeners = new Emitter<MutationFailure>();
  private readonly resetListeners = new Emitter<ResetEvent>();
  private readonly flushedListeners = new Emitter<FlushedWrite[]>();
  /** The deferred mode's unflushed writes (undefined: durable mode). */
  private readonly deferred: DeferredWrites | undefined;
  private lastReset: SyncState['lastReset'] = null;
  /** Pushes the server acknowledged and pull pages that moved the cookie: the loop's measure of progress (SyncLoopDeps.progress). */
  private progressed = 0;
  /** A mutation failure reported during the running sync; it stays as lastError after it. */
  private mutationError: string | null = null;
  private online = true;
  /** Highest mutation id a push of this engine instance delivered (the server answered 200). */
  private pushedUpTo = 0;
  /**
   * Changes of the stored pending queue this instance made, counted after each (see `unpushed`):
   * a durable local write (even one that failed) and a deferred flush. A deferred write is not
   * stored until its flush, and is not counted.
   */
  private writes = 0;
  /**
   * The stored pending mutations past pushedUpTo, all of them, known without a read: set by a
   * push's read that found them all (none: polling syncs are most syncs), extended by each
   * deferred flush that stored the next ids, trimmed by each push. Valid while the write count,
   * the resend point and the client id are those it names; else push reads. A new instance (a
   * restart after a crash) starts without it and reads. Assumes one engine per store at a time,
   * as everywhere here.
   */
  private unpushed: { writes: number; upTo: number; clientID: string; list: Mutation[] } | null = null;
  /**
   * Within one sync(), the next page's request, sent while this page is applied so that the
   * server builds it meanwhile (they took turns: a catch-up's wall time was the server's plus the
   * client's). Keyed by the cookie it carries; the next pull uses it only if its own cookie is that
   * one (else it is dropped: a pull has no effect on the server).
   */
  private ahead: { key: string; response(): Promise<PullResponseOK> } | undefined;
  private syncing = 0;
  /** The latest local write called: finished once its signal is aborted (see write). */
  private lastWrite: AbortController | null = null;
  private readonly timer: Timer;
  private lastError: string | null = null;
  private closed = false;

  private constructor(options: EngineOptions, store: ClientDatabase, meta: ClientMeta, limits: EngineLimits, ids: Ids) {
    this.store = store;
    this.currentClientID = meta.clientID;
    this.clientGroupID = meta.clientGroupID;
    this.transport = options.transport;
    this.clock = options.clock ?? systemClock;
    this.ids = ids;
    this.limits = limits;
    this.schemaVersion = options.schemaVersion ?? '1';
    this.profileID = options.profileID ?? meta.clientGroupID;
    this.timer = options.timer ?? realTimer;
    this.loop = new SyncLoop({
      timer: this.timer,
      random: options.random ?? mathRandom,
      run: () => this.syncOnce(),
      onError: (e) => this.reportError(e),
      progress: () => this.progressed,
    });
    if (options.durability === 'deferred') {
      const background = options.simulation?.background;
      this.deferred = new DeferredWrites({
        store,
        timer: background?.timer ?? this.timer,
        spawn: background?.spawn ?? ((_name, run) => void run()),
        limits: { flushIntervalMs: limits.flushIntervalMs, maxUnflushedWrites: limits.maxUnflushedWrites, maxUnflushedBytes: limits.maxUnflushedBytes },
        onChanges: (changes) => {
          for (const c of changes) this.entityListeners.emit(c);
        },
        onFlushed: (writes) => {
          this.followFlush(writes.map((w) => w.mutation));
          this.flushedListeners.emit(writes);
        },
        onError: (e) => this.reportError(e),
      });
    }
  }

  static async open(options: EngineOptions): Promise<PersistentSyncEngine> {
    const ids = options.ids ?? cryptoIds;
    const limits = engineLimits(options);
    const storeLimits: Limits = { maxDocumentBytes: limits.maxDocumentBytes, maxArgsBytes: limits.maxArgsBytes, maxDepth: limits.maxDepth };
    const create = options.simulation?.createStore ?? ((db, schema, registry, l) => new ClientDatabase(db, schema, registry, l));
    const store = create(options.db, options.schema ?? 'lockstep', createRegistry(options.mutators), storeLimits);
    store.applyChunkBytes = limits.applyChunkBytes;
    store.documentCache = new DocumentCache(limits.documentCacheEntries);
    const meta = await store.open(() => ({ clientID: ids.newId('c'), clientGroupID: options.clientGroupID ?? ids.newId('g') }));
    return new PersistentSyncEngine(options, store, meta, limits, ids);
  }

  /** This client's id; it changes when the server lost the client's state (see onReset). */
  get clientID(): string {
    return this.currentClientID;
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

  /**
   * Runs a registered mutator locally (visible at once) and queues it for the server. Throws
   * MutationRejectedError, queuing nothing, when the mutator fails or its args or a document it
   * writes break a limit (EngineOptions.limits).
   */
  mutate(name: string, args: JSONValue): Promise<Mutation> {
    const deferred = this.deferred;
    // A deferred write stores nothing (its flush does, and counts then).
    if (deferred) return this.write(() => deferred.mutate(name, args, this.clock.now()), false);
    return this.write(() => this.store.mutate(name, args, this.clock.now()));
  }

  /** Which durability mode this engine runs in (EngineOptions.durability). */
  get durability(): 'durable' | 'deferred' {
    return this.deferred ? 'deferred' : 'durable';
  }

  /**
   * Deferred mode: stores every write made before the call, in one statement, and resolves once
   * they are durable (durable mode: nothing to do). Push, pull, close and stop flush too.
   */
  async flush(): Promise<void> {
    await this.deferred?.flush();
  }

  /**
   * Re-queues another client's pending mutation as this client's (a move to a new client group
   * after the old group's token was lost): run locally and queued like mutate, carrying the
   * mutation's earlier identities as origins, so the server applies it only if no earlier copy
   * was applied (a push whose answer was lost), and never applies a late earlier copy after it.
   * It was accepted once already, so it is queued even when its mutator fails on this store's
   * state (a fresh store may not hold what it reads yet): the server decides. Only args over the
   * limits are refused (MutationRejectedError), as by mutate.
   */
  adopt(m: Mutation): Promise<Mutation> {
    // Durable in either mode (a move must not lose what it moves); the deferred writes before it are stored first.
    return this.write(async () => (await this.deferred?.flush(), this.store.mutate(m.name, m.args, this.clock.now(), requeuedOrigins(m), true)));
  }

  /**
   * A local write, in call order: it starts once the write called before it has finished (a
   * wait on the Timer seam, ended by that write, so that a simulator's scheduler sees it). It is
   * counted even when it fails (the push's pending read must not be skipped) unless it stores
   * nothing (`stores` false: a deferred write), then listeners, state and a poke.
   */
  private async write(run: () => Promise<{ mutation: Mutation; changes: EntityChange[] }>, stores = true): Promise<Mutation> {
    this.assertOpen();
    const before = this.lastWrite;
    const mine = new AbortController();
    this.lastWrite = mine;
    let written;
    try {
      if (before && !before.signal.aborted) await untilAborted(this.timer, before.signal);
      written = await run();
    } finally {
      if (stores) this.writes++;
      mine.abort('written');
      if (this.lastWrite === mine) this.lastWrite = null;
    }
    const { mutation, changes } = written;
    for (const c of changes) this.entityListeners.emit(c);
    await this.emitState();
    this.loop.poke();
    return mutation;
  }

  // ---- reads --------------------------------------------------------------------------------

  // Deferred mode: a query of a type an unflushed write touched flushes first, then runs in SQL.
  // Merging the overlay into a query's result in memory would have to copy jsonb containment and
  // PostgreSQL's jsonb ordering and collation exactly; a flush is one statement for all unflushed
  // writes, about a query's cost. Other types' rows in SQL are already exact.

  async query(spec: QuerySpec = {}): Promise<EntityRow[]> {
    if (this.deferred?.touches(spec.type)) await this.deferred.flush();
    return this.store.query(spec);
  }

  async get(type: string, id: string): Promise<EntityData | undefined> {
    // One key: the overlay answers from memory when it holds it.
    const o = this.deferred?.overlaid(`${type}/${id}`);
    if (o) return o.data;
    return (await this.store.query({ type, id }))[0]?.data;
  }

  async visibleEntities(): Promise<Map<string, EntityData>> {
    await this.deferred?.flush();
    return this.store.visibleMap();
  }

  async pendingMutations(): Promise<Mutation[]> {
    await this.deferred?.flush();
    return this.store.pendingMutations();
  }

  async getState(): Promise<SyncState> {
    const { meta, pendingCount } = (await this.store.readMetaAndPendingCount())!;
    return {
      clientID: this.clientID,
      clientGroupID: this.clientGroupID,
      cookie: meta.cookie,
      lastSyncedVersion: meta.cookie,
      lastMutationID: meta.lastMutationID,
      pendingCount,
      online: this.online,
      syncing: this.syncing > 0,
      lastError: this.lastError,
      lastReset: this.lastReset,
      ...(this.deferred ? { unflushedCount: this.deferred.unflushedCount } : {}),
    };
  }

  // ---- sync ---------------------------------------------------------------------------------

  /**
   * Sends the next batch of pending mutations: at most pushBatchSize of them and maxPushBytes
   * encoded (a bigger single mutation goes alone). Returns how many were sent (0: nothing left
   * to send). Throws on failure; ClientStateNotFound first resets the client's identity.
   */
  async push(): Promise<number> {
    this.assertOpen();
    // Only stored mutations are sent: an unflushed id may be lost in a crash and taken again.
    await this.deferred?.flush();
    const clientID = this.clientID;
    // The next push starts after what the server said it holds, even before a pull drops those
    // mutations; without this, 100 already-pushed mutations would fill every batch until the
    // next pull. A restart starts from 0 and resends (the server skips them).
    const from = this.pushedUpTo;
    const known = this.knownUnpushed();
    // Taken before the read: a write that lands during it makes the result stale, and is counted after it.
    const writes = this.writes;
    // One row past the batch tells whether anything is left after it (else a full batch costs a second read to find nothing).
    const pending = known ? known.list.slice(0, this.limits.pushBatchSize + 1) : await this.store.pendingMutations(this.limits.pushBatchSize + 1, undefined, from);
    // A read that found them all (the extra row was not there) is the whole list; one that did not leaves none known.
    if (!known) this.unpushed = pending.length <= this.limits.pushBatchSize ? { writes, upTo: from, clientID, list: pending } : null;
    if (pending.length === 0) return 0;
    const req: PushRequest = { pushVersion: 1, clientGroupID: this.clientGroupID, profileID: this.profileID, schemaVersion: this.schemaVersion, mutations: [] };
    let bytes = encodedBytes(req);
    for (const m of pending) {
      const size = encodedBytes(m) + 1;
      if (req.mutations.length === this.limits.pushBatchSize) break;
      if (req.mutations.length > 0 && bytes + size > this.limits.maxPushBytes) break;
      req.mutations.push(m);
      bytes += size;
    }
    const first = req.mutations[0]!.id;
    const last = req.mutations[req.mutations.length - 1]!.id;
    let resp;
    try {
      resp = await this.tracked(() => this.transport.push(req));
    } catch (e) {
      if (isClientStateNotFound(e)) await this.resetIdentity('push', clientID);
      // Refused: the server may hold less than we thought (a restore); resend from the oldest pending next time.
      // Not after a 429: the rate limit answers before the database, so what the server acknowledged stands.
      else if (e instanceof ProtocolError && e.status !== 429) this.pushedUpTo = 0;
      throw e;
    }
    if (this.clientID !== clientID) return 0; // reset meanwhile: this answer is about the old identity
    // The server says how far it got (a work budget may cut a push short); an older server says nothing: all of it.
    const held = resp.lastMutationIDs?.[clientID] ?? last;
    this.pushedUpTo = held;
    if (held >= first) this.progressed++;
    for (const f of resp.failed ?? []) {
      if (f.clientID !== clientID) continue;
      const failure: MutationFailure = { ...f, name: req.mutations.find((m) => m.id === f.id)?.name };
      this.mutationError = `mutation ${f.id}${failure.name ? ` (${failure.name})` : ''} failed on the server: ${f.error}`;
      this.lastError = this.mutationError;
      this.mutationErrorListeners.emit(failure);
    }
    if (resp.failed?.length) await this.emitState();
    if (held < first) throw new Error(`push made no progress: sent mutations ${first}..${last} of ${clientID}, the server holds up to ${held}`);
    // What the server holds leaves the list (flushes during the push may have extended it).
    const after = this.unpushed;
    if (after && after.upTo === from && after.clientID === clientID) this.unpushed = { ...after, upTo: held, list: after.list.filter((m) => m.id > held) };
    return req.mutations.length;
  }

  /**
   * One pull round trip, applied atomically with rebase. Returns whether the cookie moved
   * (if so there may be another page). ClientStateNotFound resets the client's identity
   * (a new client id; the next pull starts over from a full snapshot) and is rethrown.
   */
  async pull(): Promise<boolean> {
    return (await this.pullPage(false)).moved;
  }

  /**
   * pull, and whether the server said this page was its last (`more: false`: the client is now
   * at the server's version; an older server says nothing, and only a next pull finds out).
   * `sendNext`: send the next page's request ahead, while this one is applied.
   */
  private async pullPage(sendNext: boolean): Promise<{ moved: boolean; last: boolean }> {
    this.assertOpen();
    // A staged bootstrap under way continues from its own cookie (see ClientDatabase.applyPull).
    const { meta, stage } = (await this.store.readMetaAndStage())!;
    const base = meta.cookie;
    const cookie = stage ?? (base === null ? null : { order: base, epoch: meta.epoch ?? '', ...(meta.fp ? { fp: meta.fp } : {}) });
    const sent = this.ahead?.key === cookieKey(cookie) ? this.ahead : undefined;
    this.ahead = undefined;
    let resp;
    try {
      resp = await this.tracked(() => (sent ? sent.response() : this.transport.pull(this.pullRequest(cookie))));
    } catch (e) {
      if (isClientStateNotFound(e)) await this.resetIdentity('pull', meta.clientID);
      throw e;
    }
    // The server said this page brings us to its version (a staged page never does): no pull
    // only to confirm it, ahead or after.
    const last = resp.more === false && resp.cookie.stage === undefined;
    // The page takes the client somewhere (a new version, or a staged bootstrap's step).
    const advances = resp.cookie.order !== base || stage !== null || resp.cookie.stage !== undefined;
    // More may follow: ask for it now, from the cookie this page leaves.
    if (sendNext && !last && this.transport.pullAhead && advances) {
      const c = resp.cookie;
      const next = c.stage !== undefined ? c : { order: c.order, epoch: c.epoch, ...(c.fp ? { fp: c.fp } : {}) };
      this.ahead = { key: cookieKey(next), ...this.transport.pullAhead(this.pullRequest(next)) };
    }
    // An answer that changes nothing (the cookie we sent, same database and history, no patch, no
    // acknowledgement: the pull that confirms we are up to date) needs no transaction at all.
    const c = resp.cookie;
    if (stage === null && c.stage === undefined && base !== null && c.order === base && c.epoch === meta.epoch && (c.fp ?? null) === (meta.fp ?? null) && resp.patch.length === 0 && Object.keys(resp.lastMutationIDChanges).length === 0) return { moved: false, last };
    // Rebase runs in SQL over the stored pending queue: unflushed writes are stored first.
    await this.deferred?.flush();
    const result = await this.store.applyPull(base, resp, meta.clientID, stage?.stage);
    // A full snapshot gives the server's whole view of this client: if it holds less than a push
    // acknowledged (a restore to a backup from before that push), resend from there, or the
    // pending mutations past it would wait forever for a pull that never confirms them. A staged
    // page says nothing of this client until the last one.
    if (base === null && resp.cookie.stage === undefined && meta.clientID === this.clientID) {
      this.pushedUpTo = Math.min(this.pushedUpTo, resp.lastMutationIDChanges[meta.clientID] ?? 0);
    }
    for (const c of result.changes) {
      this.store.documentCache.forget(c.key);
      this.entityListeners.emit(c);
    }
    if (result.applied) await this.emitState();
    const moved = result.applied && advances;
    if (moved) this.progressed++;
    return { moved, last };
  }

  /**
   * Pushes everything pending, then pulls until caught up (at most maxPages round trips). A
   * failed push does not stop the pull (a client must keep receiving others' changes); its
   * error is rethrown after. ClientStateNotFound, from either, resets the identity once and
   * starts the sync over under the new client id.
   */
  async sync(maxPages = this.limits.maxPages): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      let pushError: unknown;
      try {
        while ((await this.push()) > 0) {
          /* next batch */
        }
      } catch (e) {
        pushError = e;
      }
      if (attempt === 0 && isClientStateNotFound(pushError)) continue;
      // The server asked us to wait (429/503 with Retry-After): a pull now would only add to it.
      if (retryAfterOf(pushError) !== undefined) throw pushError;
      try {
        for (let i = 0; i < maxPages; i++) {
          const page = await this.pullPage(i + 1 < maxPages);
          if (!page.moved || page.last) break;
        }
      } catch (e) {
        if (attempt === 0 && isClientStateNotFound(e)) continue;
        throw pushError ?? e;
      } finally {
        this.ahead = undefined;
      }
      if (pushError !== undefined) throw pushError;
      return;
    }
  }

  private async syncOnce(): Promise<void> {
    if (!this.online || this.closed) return;
    this.mutationError = null;
    await this.sync();
    // A clean sync clears the last error, except a mutation failure it just reported.
    if (this.lastError !== this.mutationError) {
      this.lastError = this.mutationError;
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

  /** Stops the loop (deferred mode: after storing the unflushed writes). */
  async stop(): Promise<void> {
    await this.deferred?.flush();
    await this.loop.stop();
  }

  /** Stops the loop (deferred mode: stores the unflushed writes first). The store (and its data) stays; reopening the same db+schema resumes. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.deferred?.flush();
    } finally {
      await this.loop.stop();
      this.closed = true;
    }
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
  /** A mutation of this client that the server recorded as failed (it has no effect and is not retried). */
  onMutationError(cb: (failure: MutationFailure) => void): () => void {
    return this.mutationErrorListeners.on(cb);
  }
  /** Deferred mode: writes just stored (durable now), each with the Mutation its mutate() returned and as stored (a rerun may renumber it). */
  onFlushed(cb: (writes: FlushedWrite[]) => void): () => void {
    return this.flushedListeners.on(cb);
  }
  /** The server lost this client's state; the engine now has a new client id (re-register a token here). */
  onReset(cb: (event: ResetEvent) => void): () => void {
    return this.resetListeners.on(cb);
  }

  // ---- internals ----------------------------------------------------------------------------

  /**
   * A deferred flush stored these mutations: the known list of unpushed ones takes them when they
   * are the next ids of its client (copied: the list is what push sends, and the app may still
   * hold the args it passed to mutate); any other change of the queue leaves it stale.
   */
  private followFlush(stored: readonly Mutation[]): void {
    const u = this.knownUnpushed();
    this.writes++;
    if (!u) return;
    let prev = u.list.length ? u.list[u.list.length - 1]!.id : u.upTo;
    for (const m of stored) {
      if (m.clientID !== u.clientID || m.id <= prev) return;
      prev = m.id;
    }
    this.unpushed = { ...u, writes: this.writes, list: [...u.list, ...stored.map((m) => ({ ...m, args: structuredClone(m.args) }))] };
  }

  /** `unpushed` while it is still true (the write count, resend point and client id it names), else null. */
  private knownUnpushed(): PersistentSyncEngine['unpushed'] {
    const u = this.unpushed;
    return u && u.writes === this.writes && u.upTo === this.pushedUpTo && u.clientID === this.clientID ? u : null;
  }

  private pullRequest(cookie: PullRequest['cookie']): PullRequest {
    return { pullVersion: 1, clientGroupID: this.clientGroupID, cookie, profileID: this.profileID, schemaVersion: this.schemaVersion, stagedBootstrap: true };
  }

  private async tracked<T>(fn: () => Promise<T>): Promise<T> {
    this.syncing++;
    try {
      return await fn();
    } finally {
      this.syncing--;
    }
  }

  /** Takes a new identity unless another request already did (expectedClientID is the one that failed). */
  private async resetIdentity(reason: 'push' | 'pull', expectedClientID: string): Promise<void> {
    if (this.clientID !== expectedClientID) return;
    const reset = await this.store.resetIdentity(this.ids.newId('c'));
    this.currentClientID = reset.clientID;
    this.pushedUpTo = 0;
    this.lastReset = { previousClientID: reset.previousClientID, clientID: reset.clientID, reason };
    this.resetListeners.emit({ ...reset, reason });
    await this.emitState();
  }

  private async reportError(e: unknown): Promise<void> {
    const error = e instanceof Error ? e : new Error(String(e));
    this.lastError = error instanceof ProtocolError ? `${error.status} ${error.message}` : error.message;
    this.errorListeners.emit(error);
    // Within the loop's run (SyncLoop awaits it): never a store read running beside the next run.
    await this.emitState().catch(() => {});
  }

  private async emitState(): Promise<void> {
    if (this.stateListeners.size === 0) return;
    this.stateListeners.emit(await this.getState());
  }

  /** Whether close() has been called (every later call but close() throws). */
  get isClosed(): boolean {
    return this.closed;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('engine is closed');
  }
}

/** What identifies a pull's cookie (a stored staged cookie comes back from jsonb with its keys reordered). */
function cookieKey(c: { order: number; epoch: string; fp?: string; stage?: string } | null): string {
  return c === null ? 'null' : JSON.stringify([c.order, c.epoch, c.fp ?? null, c.stage ?? null]);
}
