import type { FaultRates, SimConfig } from '../config.ts';
import type { Rng } from '../rng.ts';
import type { ScheduleEvent } from '../schedule.ts';
import type { World } from '../world-types.ts';

/** A fault the schedule can contain: how to draw one, and what it does to the world. */
export interface FaultModule<E extends ScheduleEvent = ScheduleEvent> {
  kind: E['kind'];
  rate: keyof FaultRates;
  generate(rng: Rng, t: number, client: number, config: SimConfig): E;
  /** Runs inside a scheduler task owned by 'faults' at the event's time. */
  apply(world: World, event: E): Promise<void>;
}
