import type { Checker, CheckerModule } from './types.ts';
import { convergence } from './convergence.ts';
import { exactlyOnce } from './exactly-once.ts';
import { noLostWrite } from './no-lost-write.ts';
import { perClientOrder } from './per-client-order.ts';
import { monotonic } from './monotonic.ts';
import { liveness } from './liveness.ts';
import { logReplay } from './log-replay.ts';
import { counters } from './counters.ts';
import { snapshot } from './snapshot.ts';
import { rebase } from './rebase.ts';
import { no5xx } from './no-5xx.ts';
import { uniqueMutationIds } from './unique-mutation-ids.ts';
import { ledger, modelWithLedger } from './ledger.ts';
import { intruderRefused } from './intruder-refused.ts';

export type { Checker, CheckerModule, FinalState, Violation, ClientFinal, LoopFinal, ObserveContext } from './types.ts';

/**
 * Every invariant, one module each: `observe` runs after a client's pull (outside the scheduler),
 * `final` on the healed end state. A new invariant is one file and one line here. Engine and
 * server exceptions are found by the run itself; determinism by running twice.
 */
export const checkerModules: readonly CheckerModule[] = [
  { name: 'convergence', final: convergence },
  { name: 'exactly-once', final: exactlyOnce },
  { name: 'no-lost-write', final: noLostWrite },
  { name: 'per-client-order', final: perClientOrder },
  { name: 'monotonic', final: monotonic },
  { name: 'liveness', final: liveness },
  { name: 'log-replay', final: logReplay },
  { name: 'counters', final: counters },
  snapshot,
  rebase,
  no5xx,
  uniqueMutationIds,
  modelWithLedger,
  intruderRefused,
  ledger,
];

/** The end-of-run hooks by name. */
export const checkers: Readonly<Record<string, Checker>> = Object.fromEntries(checkerModules.filter((m) => m.final).map((m) => [m.name, m.final!]));
