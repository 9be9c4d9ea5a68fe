import { existsSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from '../scenario.ts';
import { isSimulation } from './define.ts';
import type { Simulation, SimulationRef } from './types.ts';

/**
 * Simulations by file: a run finds its simulation from `config.simulation`, so that a worker
 * process, the shrinker and `replay` need nothing but the recorded path. Modules load once per
 * process; a simulation already in hand (a vitest file imported it) is registered instead.
 */
const loaded = new Map<string, Simulation>();

const keyOf = (ref: Pick<SimulationRef, 'file' | 'export' | 'name' | 'version'>) => (ref.file ? `${resolve(ref.file)}#${ref.export ?? 'default'}` : `inline:${ref.name}@${ref.version}`);

/** The path a config records: relative to the working directory when under it (so reports move with the project), else absolute. */
export function recordedPath(file: string): string {
  const abs = resolve(file);
  const rel = relative(process.cwd(), abs);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split(sep).join('/') : abs;
}

/** What configs and replay files record about a simulation. */
export function simulationRef(sim: Simulation, file = sim.file, exportName?: string): SimulationRef {
  return { name: sim.name, version: sim.version, ...(file ? { file: recordedPath(file) } : {}), ...(exportName && exportName !== 'default' ? { export: exportName } : {}) };
}

/** Makes a simulation in hand findable by its ref (no import). */
export function registerSimulation(sim: Simulation, ref: SimulationRef = simulationRef(sim)): SimulationRef {
  loaded.set(keyOf(ref), sim);
  return ref;
}

/** `FILE` or `FILE#export`. */
export function parseSimArg(arg: string): { file: string; export?: string } {
  const hash = arg.lastIndexOf('#');
  return hash > 0 ? { file: arg.slice(0, hash), export: arg.slice(hash + 1) } : { file: arg };
}

/** Loads a simulation module by path (the CLI's --sim, a worker, a replay). Bad usage is a UsageError (exit 2). */
export async function importSimulation(file: string, exportName = 'default'): Promise<Simulation> {
  const abs = resolve(file);
  const key = `${abs}#${exportName}`;
  const have = loaded.get(key);
  if (have) return have;
  if (!existsSync(abs)) throw new UsageError(`simulation file ${file} does not exist`);
  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileURL(abs).href);
  } catch (e) {
    const hint = /\.ts$/.test(abs) && /Unknown file extension|ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX|strip-only/.test(String((e as Error).message)) ? ' (TypeScript loads through Node >= 22.18\'s type stripping when it only uses erasable syntax; else run through tsx)' : '';
    throw new UsageError(`cannot load simulation ${file}: ${(e as Error).message}${hint}`);
  }
  const sim = mod[exportName];
  if (!isSimulation(sim)) throw new UsageError(`${file} has no simulation as its ${exportName === 'default' ? 'default export' : `export "${exportName}"`} (export default defineSimulation({...}) from 'lockstep/sim')`);
  loaded.set(key, sim);
  return sim;
}

/**
 * The simulation a config or replay file names, refusing another name or version: a replay of
 * version 3 against version 4 would not reproduce anything, so it is bad usage, said plainly.
 */
export async function resolveSimulation(ref: SimulationRef, recordedIn = 'the configuration'): Promise<Simulation> {
  const have = loaded.get(keyOf(ref));
  const sim = have ?? (ref.file ? await importSimulation(ref.file, ref.export) : undefined);
  if (!sim) throw new UsageError(`${recordedIn} belongs to simulation ${ref.name} version ${ref.version}, which records no file: pass --sim FILE`);
  checkMatch(ref, sim, ref.file ? `${ref.file}${ref.export ? `#${ref.export}` : ''}` : (sim.file ?? 'the simulation'), recordedIn);
  return sim;
}

export function checkMatch(ref: SimulationRef, sim: Simulation, file: string, recordedIn: string): void {
  if (sim.name === ref.name && sim.version === ref.version) return;
  throw new UsageError(`${recordedIn} was recorded with simulation ${ref.name} version ${ref.version}; ${file} is ${sim.name} version ${sim.version}. Re-run the seed against this version (lockstep run --sim ${file} --seed SEED), or check out the code it was recorded with.`);
}
