import type { Checker } from './types.ts';
import { convergence } from './convergence.ts';
import { exactlyOnce } from './exactly-once.ts';
import { noLostWrite } from './no-lost-write.ts';
import { perClientOrder } from './per-client-order.ts';
import { monotonic } from './monotonic.ts';
import { liveness } from './liveness.ts';
import { logReplay } from './log-replay.ts';
import { counters } from './counters.ts';

export type { Checker, FinalState, Violation, ClientFinal } from './types.ts';

/** The end-of-run checkers. Rebase and engine errors are found while running; determinism by running twice. */
export const checkers: Readonly<Record<string, Checker>> = {
  convergence,
  'exactly-once': exactlyOnce,
  'no-lost-write': noLostWrite,
  'per-client-order': perClientOrder,
  monotonic,
  liveness,
  'log-replay': logReplay,
  counters,
};
