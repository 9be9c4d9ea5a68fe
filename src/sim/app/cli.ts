import type { ReplayFile } from '../replay-file.ts';
import type { Scenario } from '../scenario.ts';
import { UsageError } from '../scenario.ts';
import { withSimulationFaults } from './config.ts';
import { checkMatch, importSimulation, parseSimArg, recordedPath, registerSimulation, resolveSimulation, simulationRef } from './load.ts';
import type { Simulation, SimulationRef } from './types.ts';

/** `run --sim FILE[#export]`: the simulation, its ref for the config, and the scenario with its fault defaults. */
export async function simForRun(arg: string, scenario: Scenario): Promise<{ sim: Simulation; ref: SimulationRef; scenario: Scenario }> {
  const { file, export: name } = parseSimArg(arg);
  const sim = await importSimulation(file, name);
  const ref = registerSimulation(sim, simulationRef(sim, file, name));
  return { sim, ref, scenario: withSimulationFaults(scenario, sim) };
}

/**
 * `replay`/`shrink`: the simulation a replay file belongs to, from --sim or from the file it
 * records; a different name or version is refused (exit 2). Rewrites the file's ref to --sim's path.
 */
export async function simForReplay(replay: ReplayFile, path: string, arg: string | undefined): Promise<Simulation | undefined> {
  const ref = replay.config.simulation;
  if (!ref) {
    if (arg) throw new UsageError(`${path} was recorded without a simulation (the built-in workload); run it without --sim`);
    return undefined;
  }
  if (!arg) return resolveSimulation(ref, path);
  const { file, export: name } = parseSimArg(arg);
  const sim = await importSimulation(file, name);
  checkMatch(ref, sim, arg, path);
  const mine: SimulationRef = { ...ref, file: recordedPath(file), ...(name && name !== 'default' ? { export: name } : {}) };
  if (!name || name === 'default') delete mine.export;
  replay.config.simulation = mine;
  registerSimulation(sim, mine);
  return sim;
}

/** How a replay file's simulation reads in a summary line. */
export const describeSim = (ref: SimulationRef | undefined) => (ref ? `, simulation ${ref.name} v${ref.version}${ref.file ? ` (${ref.file}${ref.export ? `#${ref.export}` : ''})` : ''}` : '');
