import type { LogEntry } from '../server/types.ts';
import type { PersistentSyncEngine } from '../engine/index.ts';
import type { ServerDatabase } from '../server/server-database.ts';
import type { SyncServer } from '../server/index.ts';
import type { NetworkConfig, SimConfig } from './config.ts';
import type { Rng } from './rng.ts';
import type { Scheduler } from './scheduler.ts';
import type { SimDb } from './sim-db.ts';
import type { Violation } from './checkers/types.ts';

/** One simulated client slot: its incarnations share a name and lane; a wipe starts a new identity. */
export interface SimClient {
  readonly index: number;
  readonly name: string;
  /** Bumped by every crash and wipe: tasks and ids of a dead incarnation are void. */
  incarnation: number;
  /** Bumped by a storage wipe: the schema (and so the identity) of the current store. */
  generation: number;
  schema: string;
  engine: PersistentSyncEngine | null;
  clientID: string | null;
  offlineUntil: number;
  partitionedUntil: number;
  clockOffsetMs: number;
  /** Messages sent by this slot, numbering the per-message network random streams. */
  messages: number;
  /** Server pokes sent to this slot, numbering their own network random streams. */
  pokes: number;
  /** What the current engine's sync loop is doing, as seen through its Timer and Transport. */
  loop: LoopView;
  rng: Rng;
}

/** A client's sync loop seen from outside (for heal and for a liveness failure's message). */
export interface LoopView {
  /** The loop's current (or last) wait: its length and when it began; null before the first. */
  wait: { ms: number; since: number } | null;
  /** The last sync error the loop reported (TransportError / ProtocolError message). */
  lastError: string | null;
  /** A pull answered since the last observation request: observe once it is applied. */
  pulled: boolean;
}

export interface QueuedMutation {
  lane: string;
  clientID: string;
  mutationID: number;
  name: string;
  args: unknown;
  t: number;
  /** What the workload asked for (the counters checker needs it even if the engine sent something else). */
  intent?: { op: string; type: string; id: string; by: number };
  /** Earlier identities (`clientID#id`) of a mutation re-queued by a reset or a group move (identity.ts): any of them may be the one the server applied. */
  formerIDs?: string[];
}

export interface Observation {
  clientID: string;
  lane: string;
  t: number;
  cookie: number | null;
  lastMutationID: number;
}

/** One request's fate at the server: its status, or none when it never got an answer. */
export interface ServerAnswer {
  lane: string;
  label: string;
  t: number;
  status: number;
  /** A fault was injected into this request (so a 5xx may be the fault, not the server). */
  injected: boolean;
  /** For an answer made from an exception: the exception and where it came from. */
  error?: string;
}

export interface WorldStats {
  mutations: number;
  pushes: number;
  pulls: number;
  faults: Record<string, number>;
  serverErrors: number;
}

/** What the fault modules, the network and the actors share. */
export interface World {
  readonly config: SimConfig;
  readonly sched: Scheduler;
  readonly clients: SimClient[];
  /** The client in slot i (as schedule events name it). */
  client(i: number): SimClient;
  /** The server process (createSyncServer's SyncServer) and its database; both replaced by a restart. */
  readonly server: { db: SimDb; database: ServerDatabase; sync: SyncServer; up: boolean; incarnation: number };
  readonly clientDb: SimDb;
  /** Network behaviour now: the configured faults during chaos, latency only while healing. */
  network: NetworkConfig;
  readonly netRng: Rng;
  readonly stats: WorldStats;
  readonly queued: QueuedMutation[];
  readonly wipedClientIDs: Set<string>;
  /** Log entries a compaction fault dropped from the server, read just before (the full history stays checkable). */
  readonly compactedLog: LogEntry[];
  readonly observations: Observation[];
  /** The server's 5xx answers, for the no-5xx checker (other answers are not kept). */
  readonly answers: ServerAnswer[];
  /** Violations found while running (rebase invariant, monotonic cookies), with their time. */
  readonly liveViolations: readonly Violation[];
  openEngine(client: SimClient): Promise<PersistentSyncEngine>;
  reopenServer(): Promise<void>;
  countFault(kind: string, n?: number): void;
}

