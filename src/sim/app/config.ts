import type { Scenario } from '../scenario.ts';
import type { Simulation } from './types.ts';

/**
 * The operator's data-loss faults (server storage lost, an earlier backup restored) erase writes
 * the server had acknowledged, an app's setup data included: an app invariant over totals (the
 * bank's conservation) cannot hold across them, and that is no defect of the app's mutators. Off
 * for app simulations unless the simulation (or a scenario) turns them on in its `faults.faults`.
 */
export const appDataLossDefaults = { storageLoss: 0, backupRestore: 0 };

/** A simulation's fault defaults over a scenario: flags > simulation > scenario > app defaults > profile. */
export function withSimulationFaults(scenario: Scenario | undefined, sim: Simulation): Scenario {
  const f = sim.faults ?? {};
  const base: Scenario = scenario ?? { name: sim.name };
  return {
    ...base,
    ...f,
    name: base.name === 'default' || !scenario ? sim.name : `${base.name}+${sim.name}`,
    ...(base.network || f.network ? { network: { ...base.network, ...f.network } } : {}),
    faults: { ...appDataLossDefaults, ...base.faults, ...f.faults },
    ...(base.workload || f.workload ? { workload: { ...base.workload, ...f.workload } } : {}),
  };
}
