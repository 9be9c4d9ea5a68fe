import type fc from 'fast-check';
import type { z } from 'zod';
import type { SimConfig } from '../config.ts';
import type { Rng } from '../rng.ts';
import type { SimClient, World } from '../world-types.ts';

/** Profiles with fixed rates (swarm draws each seed's rate up to `swarmMax`). */
export type FixedProfile = 'none' | 'flaky' | 'offline-heavy' | 'crashy' | 'chaos';

/** The fields every schedule event has. */
export interface EventBase {
  t: number;
  kind: string;
}

/**
 * Everything about one scheduled fault domain, in one file. The config schema and profiles
 * (config.ts), the schedule's event union (schedule.ts), heal (run.ts), the shrinker, the
 * property test's generator and the report's colours all derive from the registry in index.ts:
 * a new fault is one new module and one line there.
 */
export interface FaultModule<S extends z.ZodObject<any> = z.ZodObject<any>, E extends EventBase = z.infer<S> & EventBase> {
  kind: E['kind'];
  /** Its key in config.faults: the chance per schedule step that one starts. */
  rate: string;
  /** Its rate in each fixed profile, and the most a swarm seed draws (half the seeds draw 0). */
  rates: Record<Exclude<FixedProfile, 'none'>, number> & { swarmMax: number };
  /** The schedule event's schema (replay files are checked against it). */
  schema: S;
  generate(rng: Rng, t: number, client: number, config: SimConfig): E;
  /** The same event as a fast-check arbitrary, for the property test. */
  arbitrary(f: typeof fc, t: fc.Arbitrary<number>, client: fc.Arbitrary<number>): fc.Arbitrary<E>;
  /** Runs inside a scheduler task owned by 'faults' at the event's time. */
  apply(world: World, event: E): Promise<void>;
  /** Heal: the fault is over for this client (or the server), before the quiet phase. */
  heal?(world: World, client: SimClient): Promise<void>;
  healServer?(world: World): Promise<void>;
  /** The shrinker's knob: a smaller version of the event (shorter, nearer zero), or undefined. */
  smaller?(event: E): E | undefined;
  /** A defect this fault exposes that is not fixed yet: profiles leave it off and the property test skips it. */
  knownDefect?: string;
  /** Report: the trace kinds it draws, their colour, a legend label, and whether a `detail` of "N ms" shades a period. */
  report: { traceKinds: string[]; colour: string; legend: string; period?: string };
}
