import type { EntityData, Mutation, MutatorRegistry } from '../../protocol/index.ts';
import type { ClientRecord, LogEntry } from '../../server/types.ts';
import type { ClientDatabase } from '../../engine/client-database.ts';
import type { Observation, QueuedMutation, ServerAnswer } from '../world-types.ts';

export interface Violation {
  /** Which checker: convergence, exactly-once, no-lost-write, per-client-order, monotonic, liveness, rebase, log-replay, counters, determinism. */
  checker: string;
  message: string;
  lane?: string;
  clientID?: string;
  key?: string;
  version?: number;
  /** Virtual ms at which it was detected. */
  t?: number;
}

export interface ClientFinal {
  lane: string;
  clientID: string;
  visible: Map<string, EntityData>;
  pending: Mutation[];
  cookie: number | null;
  lastMutationID: number;
  /** Its sync loop when the heal ended (what a client that did not catch up was waiting on). */
  loop?: LoopFinal;
}

export interface LoopFinal {
  /** Failed runs in a row: the loop backs off 2^n after n of them. */
  failures: number;
  lastError: string | null;
  /** The loop's wait at the end ("3000 ms wait since t=...", "down", ...). */
  waiting: string;
}

/** Everything the end-of-run checkers look at. */
export interface FinalState {
  t: number;
  /**
   * `log` is the whole history: entries a compaction dropped (archived by the compaction fault)
   * and the log the server still has. `base` is the server's compacted base (the state at
   * `horizon`); fold(base + log above the horizon) must be the entities.
   */
  server: { entities: Map<string, EntityData>; log: LogEntry[]; clients: ClientRecord[]; version: number; registry?: MutatorRegistry; base?: Map<string, EntityData>; horizon?: number };
  clients: ClientFinal[];
  queued: QueuedMutation[];
  wipedClientIDs: Set<string>;
  observations: Observation[];
  /** Every 5xx answer the server (or a proxy in front of it) gave to a request, with whether a fault was injected into it (other answers are not kept). */
  answers: ServerAnswer[];
  healed: boolean;
  healMs: number;
  healBudgetMs: number;
  healError?: string;
}

export type Checker = (s: FinalState) => Violation[] | Promise<Violation[]>;

/**
 * What a checker sees of a client right after one of its pulls. It reads the real databases
 * outside the scheduler (no statements through the simulated database, no draws from the run's
 * random streams), so checking more or less often never changes a run's trace.
 */
export interface ObserveContext {
  lane: string;
  clientID: string;
  /** Virtual ms of the pull that asked for the observation. */
  t: number;
  /** The client's store (the same class the engine uses) on the real database. */
  store: ClientDatabase;
  /** The epoch of the server database that answered the client's last pull (its cookie's). */
  clientEpoch: string | null;
  /** The epoch of the server's current database (another one after a storage loss or restore). */
  serverEpoch(): Promise<string | null>;
  /** The server's replication log up to a version, on the real database. */
  serverLog(upTo: number): Promise<LogEntry[]>;
  /** Whether a sampled (costly) check runs this time, at the config's rebaseCheckRate. */
  sample(): boolean;
}

/** One invariant: optional hooks during the run (after each pull) and at the end. */
export interface CheckerModule {
  name: string;
  observe?(ctx: ObserveContext): Promise<Violation[]>;
  final?: Checker;
}
