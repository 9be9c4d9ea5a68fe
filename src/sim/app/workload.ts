import type { SimConfig } from '../config.ts';
import type { Rng } from '../rng.ts';
import type { ScheduleEvent } from '../schedule.ts';
import { workloadRandom } from './random.ts';
import type { Simulation } from './types.ts';

export type WorkloadEventFn = (rng: Rng, t: number, client: number, config: SimConfig, step: number) => ScheduleEvent;

/**
 * A simulation's workload as schedule events: syncs at the config's sync weight, else one
 * operation from the app's workload, its args checked against the mutator's schema now, so a
 * workload bug fails here with the step, not later as a confusing failed mutation.
 */
export function appWorkload(sim: Simulation, builtin: WorkloadEventFn): WorkloadEventFn {
  return (rng, t, client, config, step) => {
    if (sim.builtins && rng.chance(sim.builtins)) return builtin(rng, t, client, config, step);
    const w = config.workload;
    const total = w.upsert + w.delete + w.increment + w.sync;
    if (total > 0 && rng.chance(w.sync / total)) return { t, kind: 'sync', client };
    const op = sim.workload(workloadRandom(rng), { client, clients: config.clients, step, t });
    if (op === null) return { t, kind: 'sync', client };
    const def = sim.mutators[op.name];
    if (!def) throw new Error(`simulation ${sim.name}: workload step ${step} drew mutator "${op.name}", which is not in its mutators (${Object.keys(sim.mutators).join(', ')})`);
    const parsed = def.args.safeParse(op.args);
    if (!parsed.success) throw new Error(`simulation ${sim.name}: workload step ${step} drew invalid args for "${op.name}" ${JSON.stringify(op.args)}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    return { t, kind: 'mutate', client, name: op.name, args: op.args };
  };
}
