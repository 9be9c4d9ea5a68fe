import type { EntityData, Mutation } from '../../protocol/index.ts';
import type { ClientRecord, LogEntry } from '../../server/types.ts';
import type { Observation, QueuedMutation } from '../world-types.ts';

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
}

/** Everything the end-of-run checkers look at. */
export interface FinalState {
  t: number;
  server: { entities: Map<string, EntityData>; log: LogEntry[]; clients: ClientRecord[]; version: number };
  clients: ClientFinal[];
  queued: QueuedMutation[];
  wipedClientIDs: Set<string>;
  observations: Observation[];
  healed: boolean;
  healMs: number;
  healBudgetMs: number;
  healError?: string;
}

export type Checker = (s: FinalState) => Violation[] | Promise<Violation[]>;
