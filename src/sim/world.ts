import type { LogEntry } from '../server/types.ts';
import { PersistentSyncEngine, type EngineOptions } from '../engine/index.ts';
import { syncLoopRun } from '../engine/simulation.ts';
import type { Db } from '../db/types.ts';
import { ProtocolError, TransportError, type Mutation, type PullResponseOK } from '../protocol/index.ts';
import type { ServerDatabase } from '../server/server-database.ts';
import type { SyncServer } from '../server/index.ts';
import { defaultSyncLoop, type NetworkConfig, type SimConfig } from './config.ts';
import type { BugVariant } from './bugs/types.ts';
import { Rng } from './rng.ts';
import { Crash, Scheduler } from './scheduler.ts';
import { SimDb } from './sim-db.ts';
import { simTransport } from './network.ts';
import { excuseStaleRefusal } from './faults/proxy-rewrite.ts';
import { startPokeStream } from './poke-stream.ts';
import { openServerProcess } from './sim-server.ts';
import { mountViews } from './app-view.ts';
import { apiState, simApi } from './sim-api.ts';
import type { Future } from './scheduler.ts';
import type { Transport } from '../seams/index.ts';
import type { Observation, QueuedMutation, ServerAnswer, SimClient, World, WorldStats } from './world-types.ts';
import { Observer } from './observe.ts';
import { checkerModules } from './checkers/index.ts';
import type { Violation } from './checkers/types.ts';
import { exceptionViolation } from './findings.ts';
import type { Simulation } from './app/types.ts';
import { simulationCheckers } from './app/checkers.ts';
import { runSetup } from './app/setup.ts';
import { customMutators } from './custom-mutators.ts';
import { appEngineKnobs } from './coverage-knobs.ts';
import { misconfiguredOpens, misconfiguredStart } from './custom-startup.ts';
import { engineKnobs } from './wide-workload.ts';
import { watchEngine } from './identity.ts';
import { acknowledgeOnFlush, watchFlushes } from './deferred-writes.ts';
import { trackEngine } from './faults/client-crash.ts';
import { budgetOf } from './run-guard.ts';

/** How long a pull takes a page sent ahead (virtual ms): the network settles every request sooner, so only a lost task would reach it. */
const pullAheadWaitMs = 10 * 60_000;

/**
 * Scheduler steps between two turns of Node's event loop. A run is otherwise one unbroken chain
 * of microtasks, and V8 keeps every WeakRef target made during a job alive until the job ends: the
 * AbortSignals that AbortSignal.any and undici's Request make (each with its listener maps) piled
 * up for the whole run (400 clients: 23,600 signals). No task runs during the turn, and no run
 * random stream is drawn, so the trace is the same.
 */
const STEPS_PER_EVENT_LOOP_TURN = 1000;

const eventLoopTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Virtual time starts at a fixed epoch so that timestamps look real and replay identically. */
export const EPOCH_MS = Date.UTC(2026, 0, 1);

export interface Stores {
  /** The server's real database (PGlite or PostgreSQL), shared across seeds; each run takes its own schema. */
  server: Db;
  /** The clients' PGlite, shared by all clients of all runs; a schema per client. */
  clients: Db;
}

export class SimWorld implements World {
  readonly config: SimConfig;
  readonly sched: Scheduler;
  readonly clients: SimClient[] = [];
  readonly server: World['server'];
  readonly clientDb: SimDb;
  network: NetworkConfig;
  readonly netRng: Rng;
  readonly stats: WorldStats = { mutations: 0, pushes: 0, pulls: 0, faults: {}, serverErrors: 0 };
  readonly queued: QueuedMutation[] = [];
  readonly wipedClientIDs = new Set<string>();
  readonly compactedLog: LogEntry[] = [];
  readonly observer: Observer;
  readonly answers: ServerAnswer[] = [];
  private readonly ownViolations: Violation[] = [];
  readonly statements = { statements: 0 };
  /** An exception while building the world (a finding of the seed like any other). */
  setupError: unknown;
  /** Once set, every engine runs its sync loop (those opened later, after a crash or wipe, too). */
  private loopsRunning = false;
  /** Resolved whenever a client's loop finishes a run and goes to sleep (heal re-checks then). */
  private loopSettled: Future<void> | null = null;
  /** Aborted when the loops stop: every poke stream closes with them. */
  private streamsStop = new AbortController();
  private readonly bug: BugVariant | undefined;
  private readonly prefix: string;
  private readonly serverSchema: string;
  /** The app simulation whose mutators both sides register (undefined: the built-in workload only). */
  readonly app: Simulation | undefined;
  private readonly idCounters = new Map<string, number>();
  /** Every engine opened: the heal's end stops them all, so that none replaced but still looping (a move cut short by a crash) outlives the run. */
  private readonly engines = new Set<PersistentSyncEngine>();
  /** Each engine's token source (its transport's group token), for its poke stream. */
  private readonly pokeTokens = new WeakMap<PersistentSyncEngine, (group: string) => Promise<string>>();

  private constructor(config: SimConfig, rng: Rng, stores: Stores, bug: BugVariant | undefined, prefix: string, app?: Simulation) {
    this.config = config;
    this.app = app;
    this.bug = bug;
    this.prefix = prefix;
    this.sched = new Scheduler(rng.fork('scheduler'), budgetOf(config));
    this.netRng = rng.fork('network');
    this.network = config.network;
    this.serverSchema = `${prefix}_server`;
    const serverDb = new SimDb(stores.server, this.sched, 'server-db', config.dbLatencyMs, this.statements);
    this.server = { db: serverDb, database: null as unknown as ServerDatabase, sync: null as unknown as SyncServer, up: true, incarnation: 0 };
    // Each client is its own device: one client's transaction must not hold up the others in virtual time.
    this.clientDb = new SimDb(stores.clients, this.sched, 'client-db', config.dbLatencyMs, this.statements, { separateDevices: true });
    this.observer = new Observer({ sched: this.sched, clientDb: this.clientDb, serverDb, serverSchema: this.serverSchema, compactedLog: this.compactedLog, rng: rng.fork('observe'), rate: config.rebaseCheckRate, modules: app ? simulationCheckers(app) : checkerModules, bug, mutators: app?.mutators ?? customMutators(config.wide) });
    this.sched.betweenSteps = async () => {
      if (this.sched.steps % STEPS_PER_EVENT_LOOP_TURN === STEPS_PER_EVENT_LOOP_TURN - 1) await eventLoopTurn();
      await this.observer.flush();
    };
    const clientRng = rng.fork('clients');
    const slots = config.clientSlots ?? Array.from({ length: config.clients }, (_, i) => i);
    if (slots.length !== config.clients) throw new Error(`clientSlots has ${slots.length} slots but clients is ${config.clients}`);
    for (const i of slots) {
      this.clients.push({
        index: i, name: `c${i}`, incarnation: 0, generation: 0, schema: '', engine: null, clientID: null,
        offlineUntil: 0, partitionedUntil: 0, clockOffsetMs: 0, messages: 0, pokes: 0, rng: clientRng.fork(i),
        loop: { wait: null, lastError: null, pulled: false },
      });
    }
  }

  /** Builds the world: server tables in a fresh schema, then every client's store (in one task each). */
  static async create(config: SimConfig, rng: Rng, stores: Stores, bug: BugVariant | undefined, prefix: string, app?: Simulation): Promise<SimWorld> {
    const w = new SimWorld(config, rng, stores, bug, prefix, app);
    // Schemas of an earlier run with the same prefix (a replay in the same process) go first.
    await stores.server.exec(`DROP SCHEMA IF EXISTS "${w.serverSchema}" CASCADE`);
    // Setup takes no virtual time, so the schedule starts at 0 whatever the number of clients
    // (a shrunk schedule with fewer clients then keeps its timing).
    w.server.db.maxStatementMs = 0;
    w.clientDb.maxStatementMs = 0;
    let ready = false;
    w.sched.spawn('sim', 'setup', async () => {
      await w.reopenServer();
      for (const c of w.clients) c.engine = await w.openEngine(c);
      if (app) await runSetup(w, app);
      ready = true;
    });
    try {
      // Until the setup is done: the server process (its compaction schedule) lives on into the run.
      await w.sched.run(() => ready);
    } catch (e) {
      w.setupError = e;
    }
    w.server.db.maxStatementMs = config.dbLatencyMs;
    w.clientDb.maxStatementMs = config.dbLatencyMs;
    return w;
  }

  get observations(): Observation[] {
    return this.observer.observations;
  }

  /** Violations found while running: engine errors and the live checkers' observations. */
  get liveViolations(): Violation[] {
    return [...this.ownViolations, ...this.observer.violations];
  }

  client(i: number): SimClient {
    const c = this.clients.find((x) => x.index === i);
    if (!c) throw new Error(`schedule names client ${i}, but the world has slots ${this.clients.map((x) => x.index).join(', ')}`);
    return c;
  }

  /** A violation found while running (the app view's live-query invariant). */
  reportViolation(v: Violation): void {
    this.ownViolations.push(v);
  }

  countFault(kind: string, n = 1): void {
    this.stats.faults[kind] = (this.stats.faults[kind] ?? 0) + n;
  }

  /** Starts a server process (createSyncServer, as production does) on the world's server database. */
  async reopenServer(): Promise<void> {
    // The previous process is gone: its poke streams ended with it (the clients open new ones).
    apiState(this).api?.pokes.closeAll();
    apiState(this).draining = false;
    const sync = await openServerProcess(this, { schema: this.serverSchema, bug: this.bug, mutators: this.app?.mutators ?? customMutators(this.config.wide), onViolation: (v) => this.ownViolations.push(v) });
    this.server.sync = sync;
    this.server.database = sync.database;
    // As production's openSyncApiFromEnv: the token store and the HTTP API open at process start
    // (not at the first request), so the auth table exists whenever the server's tables do.
    await simApi(this);
  }

  /**
   * Opens the client's engine on its store. Once the loops run, the engine's own SyncLoop starts
   * too, as a task of the client's lane (a crash kills it with everything else of the client).
   */
  async openEngine(c: SimClient): Promise<PersistentSyncEngine> {
    c.schema = `${this.prefix}_${c.name}_g${c.generation}`;
    // Ids count on across restarts of a generation: an identity reset after a restart must not reuse an id.
    const counter = `${c.name}/${c.generation}`;
    const generation = c.generation;
    const net = simTransport(this, c);
    // The loop's pulls: once one is applied (the next pull, or the loop's next wait), observe the client.
    const transport: Transport = {
      push: (req) => net.push(req),
      pull: async (req) => {
        this.observeIfPulled(c, engine);
        const resp = await net.pull(req);
        c.loop.pulled = true;
        return resp;
      },
      // The next page, asked for while the engine applies one: the request runs as its own task of
      // the client's lane (the scheduler runs one flow per task; a crash ends it with the client),
      // and its answer waits in a future until the next pull takes it, where that pull would send.
      pullAhead: (req) => {
        const answer = this.sched.future<PullResponseOK>();
        this.sched.spawn(c.name, 'pull-ahead', async () => {
          try {
            answer.resolve(await (net.pullAhead ? net.pullAhead(req).response() : net.pull(req)));
          } catch (e) {
            if (e instanceof Crash) throw e;
            answer.reject(e as Error);
          }
        });
        return {
          response: async () => {
            this.observeIfPulled(c, engine);
            const resp = await this.sched.waitFor(answer, pullAheadWaitMs, () => new TransportError('no answer to the pull sent ahead'));
            c.loop.pulled = true;
            return resp;
          },
        };
      },
    };
    c.loop = { wait: null, lastError: null, pulled: false };
    const options: EngineOptions = {
      db: this.clientDb,
      schema: c.schema,
      transport,
      clock: { now: () => EPOCH_MS + this.sched.now + c.clockOffsetMs },
      ids: { newId: (p) => {
        const n = (this.idCounters.get(counter) ?? 0) + 1;
        this.idCounters.set(counter, n);
        return `${p}-${c.name}-${generation}-${n}`;
      } },
      // The Timer is only the sync loop's: each wait follows a run or a poke.
      timer: {
        sleep: (ms, signal) => {
          if (c.engine === engine) {
            this.observeIfPulled(c, engine);
            c.loop.wait = { ms, since: this.sched.now };
          }
          this.loopSettled?.resolve();
          return this.sched.sleep(ms, signal);
        },
      },
      random: c.rng.fork(`engine-${c.incarnation}`),
      mutators: this.app?.mutators ?? customMutators(this.config.wide),
      simulation: {
        createStore: this.bug?.createStore,
        // The deferred mode's flush timer: a task of the client's lane (a crash ends it), on its own timer (not the loop's wait).
        background: { spawn: (name, run) => this.sched.spawn(c.name, name, run), timer: { sleep: (ms, signal) => this.sched.sleep(ms, signal) } },
      },
      ...engineKnobs(this.config.wide),
      ...appEngineKnobs(this.config.wide),
    };
    // wide.appLifecycle: the app's configuration mistakes first, each refused with its clear error.
    if (this.config.wide?.appLifecycle) await misconfiguredOpens(this, c, options);
    const engine: PersistentSyncEngine = await PersistentSyncEngine.open(options);
    watchEngine(this, c, engine);
    watchFlushes(this, c, engine);
    trackEngine(c, engine);
    // The app's screen: its live queries and sync state re-render as the engine's state changes.
    if (!this.app) mountViews(this, c, engine);
    this.engines.add(engine);
    c.clientID = engine.clientID;
    engine.onSyncError((e) => this.syncError(c, engine, e));
    // wide.appLifecycle: as onReset's documentation asks (and the demo app does after
    // ClientStateNotFound), the app registers its group again (GroupToken.refresh), then asks for
    // a sync; a task of the client's lane, beside the loop's run in progress.
    if (this.config.wide?.appLifecycle) {
      engine.onReset(() => {
        this.sched.spawn(c.name, 'token-refresh', async () => {
          await net.refresh(engine.clientGroupID);
          this.countFault('token-refreshed');
          if (c.engine === engine && !engine.isClosed) engine.requestSync();
        });
      });
    }
    this.pokeTokens.set(engine, (group) => net.token(group));
    if (this.loopsRunning) this.startLoop(c, engine);
    return engine;
  }

  /** Starts every client's sync loop (the chaos phase begins). */
  startLoops(): void {
    this.loopsRunning = true;
    this.streamsStop = new AbortController();
    for (const c of this.clients) if (c.engine) this.startLoop(c, c.engine);
  }

  /** Asks every loop to stop (the heal is over); their tasks end once the run in progress does. */
  stopLoops(): void {
    this.loopsRunning = false;
    this.streamsStop.abort();
    // Each stop() in a task of its own: it waits for the run in progress on the Timer seam, and a
    // bare call would park whichever task is running (swarm seed 154).
    for (const engine of this.engines) this.sched.spawn('sim', 'stop-loop', () => engine.stop());
    // The server process's compaction schedule too (close() stops it; the simulated database stays open).
    void this.server.sync.close();
  }

  /** A future resolved when any client's loop next goes to sleep, i.e. a sync run ended. */
  nextLoopSettle(): Future<void> {
    this.loopSettled = this.sched.future<void>();
    return this.loopSettled;
  }

  private startLoop(c: SimClient, engine: PersistentSyncEngine): void {
    const options = this.config.syncLoop ?? defaultSyncLoop;
    // start() runs the loop's first steps synchronously: inside this task, so that its sleeps
    // park the task; the loop's promise chain is the task until stop() or a crash ends it.
    this.sched.spawn(c.name, 'sync-loop', async () => {
      // The heal may have ended (stopLoops) between the spawn and this task's first step: a loop
      // started now would never be stopped and would run to the virtual time limit.
      if (!this.loopsRunning) return;
      // So may a graceful close of this engine (the client-crash fault's close variant): start()
      // on a closed engine throws, and its loop is not wanted any more.
      if (engine.isClosed) return;
      // wide.appLifecycle: a misconfigured start first (refused), then the app's effect runs twice (a double mount): the second start is a no-op.
      if (this.config.wide?.appLifecycle) misconfiguredStart(this, c, engine);
      engine.start(options);
      if (this.config.wide?.appLifecycle) engine.start(options);
      await syncLoopRun(engine);
    });
    // The app opens its poke stream next to the loop (EventSource on /api/poke).
    const token = this.pokeTokens.get(engine);
    if (token) startPokeStream(this, c, () => c.engine === engine && this.loopsRunning, () => token(engine.clientGroupID), this.streamsStop.signal);
  }

  private observeIfPulled(c: SimClient, engine: PersistentSyncEngine): void {
    if (!c.loop.pulled || c.engine !== engine) return;
    c.loop.pulled = false;
    this.observer.request(c, engine.clientID);
  }

  /** The loop's onSyncError: network and protocol failures are normal under faults; anything else is a finding. */
  private syncError(c: SimClient, engine: PersistentSyncEngine, e: Error): void {
    if (e instanceof Crash) return; // the client (or this engine) is gone
    if (e instanceof TransportError || e instanceof ProtocolError) {
      c.loop.lastError = e.message;
      this.sched.record(c.name, 'sync-error', e.message);
      return;
    }
    // A stale page the simulated proxy gave it, refused: the engine doing its job.
    if (excuseStaleRefusal(this, c, e)) {
      c.loop.lastError = e.message;
      return;
    }
    // The engine refusing an impossible state: a finding, not noise.
    this.ownViolations.push(exceptionViolation(e, { lane: c.name, clientID: engine.clientID, t: this.sched.now }, 'engine-error'));
    this.sched.record(c.name, 'engine-error', e.message);
  }

  /** A local write by the workload; remembers it once the engine has durably queued it. */
  async mutate(c: SimClient, op: () => Promise<{ id: number; name: string; args: unknown; clientID: string }>, intent?: QueuedMutation['intent']): Promise<void> {
    const deferred = c.engine?.durability === 'deferred';
    const m = await op();
    this.stats.mutations++;
    if (deferred) acknowledgeOnFlush(m as Mutation, this.sched.now, intent);
    else this.queued.push({ lane: c.name, clientID: m.clientID, mutationID: m.id, name: m.name, args: m.args, t: this.sched.now, intent });
    this.sched.record(c.name, 'mutation', `${m.name} #${m.id} ${JSON.stringify(m.args)}`);
  }
}
