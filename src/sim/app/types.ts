import type { JSONValue, MutatorRegistry } from '../../protocol/index.ts';
import type { Scenario } from '../scenario.ts';
import type { MutatorModel } from '../checkers/model-mutators.ts';

/** One call of an app mutator: what a workload draws and a `mutate` schedule event stores. */
export interface Operation {
  name: string;
  args: JSONValue;
}

/** The run's random stream as a workload sees it (a view of the schedule stream, so replay needs no seed). */
export interface WorkloadRandom {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [lo, hi], inclusive. */
  int(lo: number, hi: number): number;
  pick<T>(items: readonly T[]): T;
  bool(p?: number): boolean;
  /** Calls one of the functions, chosen by weight. */
  weighted<T>(choices: readonly (readonly [number, () => T])[]): T;
}

export interface WorkloadContext {
  /** The client slot that performs the operation. */
  client: number;
  clients: number;
  /** Schedule step and virtual ms of the operation. */
  step: number;
  t: number;
}

/** A document with its id, as invariants see it. */
export type Doc = Record<string, unknown> & { id: string };

/** Read-only entities of one side (the server or one client). */
export interface EntitiesView {
  all(type: string): Doc[];
  get(type: string, id: string): Doc | undefined;
  /** Sum of a numeric field over every entity of a type (non-numbers count 0). */
  sum(type: string, field: string): number;
}

export interface ClientView extends EntitiesView {
  lane: string;
  clientID: string;
}

export interface FinalView extends EntitiesView {
  /** Every client's visible state after heal. */
  clients: ClientView[];
  /** The server's replication log, in version order. */
  log: readonly { version: number; name: string; args: unknown; clientID: string; mutationID: number; error: string | null }[];
  /** How many mutations of this name the server applied successfully. */
  applied(name: string): number;
}

/** `true`/`undefined`: holds; `false` or a message: violated. */
export type InvariantResult = boolean | string | undefined | void;

export interface Invariant {
  /** On the healed end state (server and every client). */
  final?: (s: FinalView) => InvariantResult | Promise<InvariantResult>;
  /** On a client's visible state after each of its pulls (read outside the scheduler). */
  live?: (view: ClientView) => InvariantResult | Promise<InvariantResult>;
}

/** Fault and size defaults of a simulation: the shape of a scenario file (flags still win). */
export type SimulationFaults = Pick<Scenario, 'profile' | 'network' | 'faults' | 'clients' | 'steps' | 'stepMs' | 'healBudgetMs' | 'workload'>;

export interface SimulationSpec {
  name: string;
  /** Bump when mutators or invariants change meaning: replay files of another version are refused. */
  version: number;
  /** The app's own mutators, registered on every simulated engine and on the server. */
  mutators: MutatorRegistry;
  /** Run by the first client and synced to everyone before the schedule starts (no virtual time). */
  setup?: Operation[];
  /** One operation per workload step, drawn from the run's random stream; null: a sync instead. */
  workload: (r: WorkloadRandom, ctx: WorkloadContext) => Operation | null;
  /** Each one becomes a checker named `<name>/<invariant>` beside the built-in ones. */
  invariants: Record<string, Invariant>;
  faults?: SimulationFaults;
  /** Models of the app's mutators for the independent model oracle (without one, a mutator's logged effects are trusted). */
  models?: Record<string, MutatorModel>;
  /** Fraction of workload steps drawn from the built-in comment/review/tally workload instead (default 0). */
  builtins?: number;
}

export interface Simulation extends SimulationSpec {
  readonly kind: 'lockstep-simulation';
  /** The module that defined it, when known (from the call stack): what replay files record. */
  readonly file?: string;
}

/** What a config and a replay file record about the simulation they belong to. */
export interface SimulationRef {
  name: string;
  version: number;
  /** Relative to the working directory when under it, else absolute. */
  file?: string;
  export?: string;
}
