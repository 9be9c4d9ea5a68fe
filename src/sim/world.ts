import { PersistentSyncEngine } from '../engine/index.ts';
import { rebaseCheck, snapshotWithCookie } from '../engine/simulation.ts';
import type { Db } from '../db/types.ts';
import { ProtocolError, TransportError } from '../protocol/index.ts';
import { ServerDatabase } from '../server/server-database.ts';
import type { NetworkConfig, SimConfig } from './config.ts';
import type { BugVariant } from './bugs/types.ts';
import { Rng } from './rng.ts';
import { Crash, Scheduler } from './scheduler.ts';
import { SimDb } from './sim-db.ts';
import { simTransport } from './network.ts';
import type { Observation, QueuedMutation, ServerAnswer, SimClient, World, WorldStats } from './world-types.ts';
import { Observer } from './observe.ts';
import { checkerModules } from './checkers/index.ts';
import type { Violation } from './checkers/types.ts';
import { exceptionViolation } from './findings.ts';
import { engineKnobs, serverKnobs } from './wide-workload.ts';
import { watchEngine } from './identity.ts';

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
  readonly observer: Observer;
  readonly answers: ServerAnswer[] = [];
  private readonly ownViolations: Violation[] = [];
  readonly statements = { statements: 0 };
  /** An exception while building the world (a finding of the seed like any other). */
  setupError: unknown;
  private readonly bug: BugVariant | undefined;
  private readonly prefix: string;
  private readonly serverSchema: string;
  private readonly idCounters = new Map<string, number>();

  private constructor(config: SimConfig, rng: Rng, stores: Stores, bug: BugVariant | undefined, prefix: string) {
    this.config = config;
    this.bug = bug;
    this.prefix = prefix;
    this.sched = new Scheduler(rng.fork('scheduler'), { maxSteps: 50_000_000, maxVirtualMs: 100_000_000 });
    this.netRng = rng.fork('network');
    this.network = config.network;
    this.serverSchema = `${prefix}_server`;
    const serverDb = new SimDb(stores.server, this.sched, 'server-db', config.dbLatencyMs, this.statements);
    this.server = { db: serverDb, database: null as unknown as ServerDatabase, up: true, incarnation: 0 };
    this.clientDb = new SimDb(stores.clients, this.sched, 'client-db', config.dbLatencyMs, this.statements);
    this.observer = new Observer({ sched: this.sched, clientDb: this.clientDb, serverDb, serverSchema: this.serverSchema, rng: rng.fork('observe'), rate: config.rebaseCheckRate, modules: checkerModules, bug });
    this.sched.betweenSteps = () => this.observer.flush();
    const clientRng = rng.fork('clients');
    const slots = config.clientSlots ?? Array.from({ length: config.clients }, (_, i) => i);
    if (slots.length !== config.clients) throw new Error(`clientSlots has ${slots.length} slots but clients is ${config.clients}`);
    for (const i of slots) {
      this.clients.push({
        index: i, name: `c${i}`, incarnation: 0, generation: 0, schema: '', engine: null, clientID: null,
        offlineUntil: 0, partitionedUntil: 0, clockOffsetMs: 0, messages: 0, rng: clientRng.fork(i),
      });
    }
  }

  /** Builds the world: server tables in a fresh schema, then every client's store (in one task each). */
  static async create(config: SimConfig, rng: Rng, stores: Stores, bug: BugVariant | undefined, prefix: string): Promise<SimWorld> {
    const w = new SimWorld(config, rng, stores, bug, prefix);
    // Schemas of an earlier run with the same prefix (a replay in the same process) go first.
    await stores.server.exec(`DROP SCHEMA IF EXISTS "${w.serverSchema}" CASCADE`);
    // Setup takes no virtual time, so the schedule starts at 0 whatever the number of clients
    // (a shrunk schedule with fewer clients then keeps its timing).
    w.server.db.maxStatementMs = 0;
    w.clientDb.maxStatementMs = 0;
    w.sched.spawn('sim', 'setup', async () => {
      await w.reopenServer();
      for (const c of w.clients) c.engine = await w.openEngine(c);
    });
    try {
      await w.sched.run();
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

  countFault(kind: string): void {
    this.stats.faults[kind] = (this.stats.faults[kind] ?? 0) + 1;
  }

  async reopenServer(): Promise<void> {
    const Server = this.bug?.Server ?? ServerDatabase;
    const clock = { now: () => EPOCH_MS + this.sched.now };
    // open() runs the idempotent migration, as a restarted server process would.
    const ids = { newId: (p: string) => `${p}-sim-${this.server.incarnation}` };
    this.server.database = await (Server as typeof ServerDatabase).open.call(Server as never, this.server.db, { clock, ids, schema: this.serverSchema, ...serverKnobs(this.config.wide) }) as ServerDatabase;
  }

  async openEngine(c: SimClient): Promise<PersistentSyncEngine> {
    c.schema = `${this.prefix}_${c.name}_g${c.generation}`;
    // Ids count on across restarts of a generation: an identity reset after a restart must not reuse an id.
    const counter = `${c.name}/${c.generation}`;
    const generation = c.generation;
    const engine = await PersistentSyncEngine.open({
      db: this.clientDb,
      schema: c.schema,
      transport: simTransport(this, c),
      clock: { now: () => EPOCH_MS + this.sched.now + c.clockOffsetMs },
      ids: { newId: (p) => {
        const n = (this.idCounters.get(counter) ?? 0) + 1;
        this.idCounters.set(counter, n);
        return `${p}-${c.name}-${generation}-${n}`;
      } },
      timer: { sleep: (ms, signal) => this.sched.sleep(ms, signal) },
      random: c.rng.fork(`engine-${c.incarnation}`),
      simulation: { createStore: this.bug?.createStore },
      ...engineKnobs(this.config.wide),
    });
    watchEngine(this, c, engine);
    c.clientID = engine.clientID;
    return engine;
  }

  /** A local write by the workload; remembers it once the engine has durably queued it. */
  async mutate(c: SimClient, op: () => Promise<{ id: number; name: string; args: unknown; clientID: string }>, intent?: QueuedMutation['intent']): Promise<void> {
    const m = await op();
    this.stats.mutations++;
    this.queued.push({ lane: c.name, clientID: m.clientID, mutationID: m.id, name: m.name, args: m.args, t: this.sched.now, intent });
    this.sched.record(c.name, 'mutation', `${m.name} #${m.id} ${JSON.stringify(m.args)}`);
  }

  /** Push everything, then pull until caught up; failures are normal under faults. Returns whether it all went through. */
  async sync(c: SimClient, engine: PersistentSyncEngine): Promise<boolean> {
    try {
      while ((await engine.push()) > 0) {
        /* next batch */
      }
      for (let page = 0; page < 50; page++) {
        const moved = await engine.pull();
        this.observer.request(c, engine.clientID);
        if (!moved) break;
      }
      return true;
    } catch (e) {
      if (e instanceof Crash) throw e;
      if (e instanceof TransportError || e instanceof ProtocolError) {
        this.sched.record(c.name, 'sync-error', e.message);
        return false;
      }
      // Anything else is the engine refusing an impossible state: a finding, not noise.
      this.ownViolations.push(exceptionViolation(e, { lane: c.name, clientID: engine.clientID, t: this.sched.now }, 'engine-error'));
      this.sched.record(c.name, 'engine-error', (e as Error).message);
      return false;
    }
  }
}
