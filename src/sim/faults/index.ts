import type { FaultModule } from './types.ts';
import { offline } from './offline.ts';
import { partition } from './partition.ts';
import { clientCrash } from './client-crash.ts';
import { serverCrash } from './server-crash.ts';
import { clockSkew } from './clock-skew.ts';
import { storageWipe } from './storage-wipe.ts';

/** The scheduled faults, in the order the generator tries them. Network faults live in network-faults.ts. */
export const faultModules: readonly FaultModule<any>[] = [offline, partition, clientCrash, serverCrash, clockSkew, storageWipe];

export function faultModuleFor(kind: string): FaultModule<any> | undefined {
  return faultModules.find((m) => m.kind === kind);
}
