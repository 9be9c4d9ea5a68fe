import type { FaultModule } from './types.ts';
import { offline } from './offline.ts';
import { partition } from './partition.ts';
import { clientCrash } from './client-crash.ts';
import { serverCrash } from './server-crash.ts';
import { clockSkew } from './clock-skew.ts';
import { storageWipe } from './storage-wipe.ts';
import { compaction } from './compaction.ts';

import { messageFaults } from './network-faults.ts';
import { storageLoss } from './storage-loss.ts';
import { backupRestore } from './backup-restore.ts';
import { tokenLoss } from './token-loss.ts';
import { serverRestart } from './server-restart.ts';

export type { FaultModule } from './types.ts';

/**
 * The scheduled faults, in the order the generator tries them (and swarm draws their rates).
 * A new fault: one module, one line here. Per-message network faults live in network-faults.ts.
 */
export const faultModules = [offline, partition, clientCrash, serverCrash, clockSkew, storageWipe, compaction, storageLoss, backupRestore, tokenLoss, serverRestart] as const satisfies readonly FaultModule<any, any>[];

/** A registry entry seen without its event type (the callers pass events of its kind). */
export type AnyFaultModule = FaultModule<any, any>;

export function faultModuleFor(kind: string): AnyFaultModule | undefined {
  return (faultModules as readonly AnyFaultModule[]).find((m) => m.kind === kind);
}

/** The report's view of the registry: colour per trace kind, shaded periods, legend entries. */
export const faultReport = {
  colours: new Map<string, string>([...(faultModules as readonly AnyFaultModule[]), ...messageFaults.map((f) => ({ report: f }))].flatMap((m) => m.report.traceKinds.map((k) => [k, m.report.colour] as [string, string]))),
  periods: Object.fromEntries((faultModules as readonly AnyFaultModule[]).filter((m) => m.report.period).map((m) => [m.kind, m.report.period!])) as Record<string, string>,
  legend: [...(faultModules as readonly AnyFaultModule[]).map((m) => m.report), ...messageFaults].map((r) => ({ colour: r.colour, legend: r.legend })),
};
