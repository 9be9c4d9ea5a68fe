import type { Scenario } from '../scenario.ts';
import type { Simulation } from './types.ts';

/** A simulation's fault defaults over a scenario: flags > simulation > scenario > profile. */
export function withSimulationFaults(scenario: Scenario | undefined, sim: Simulation): Scenario {
  const f = sim.faults ?? {};
  const base: Scenario = scenario ?? { name: sim.name };
  return {
    ...base,
    ...f,
    name: base.name === 'default' || !scenario ? sim.name : `${base.name}+${sim.name}`,
    ...(base.network || f.network ? { network: { ...base.network, ...f.network } } : {}),
    ...(base.faults || f.faults ? { faults: { ...base.faults, ...f.faults } } : {}),
    ...(base.workload || f.workload ? { workload: { ...base.workload, ...f.workload } } : {}),
  };
}
