import { fileURLToPath } from 'node:url';
import { builtinMutators } from '../../protocol/index.ts';
import type { Simulation, SimulationSpec } from './types.ts';

/**
 * Describes an app to the simulator: its mutators, a seeded workload, invariants and optional
 * fault overrides. Export it (default) from a module, so that `lockstep run --sim FILE` and worker
 * processes can load it by path: functions cannot cross a process boundary, a path can.
 */
export function defineSimulation(spec: SimulationSpec): Simulation {
  if (!/^[A-Za-z0-9][\w.-]*$/.test(spec.name)) throw new Error(`defineSimulation: name "${spec.name}" must be letters, digits, ".", "_" or "-"`);
  if (!Number.isInteger(spec.version) || spec.version < 1) throw new Error(`defineSimulation(${spec.name}): version must be a positive integer`);
  for (const n of Object.keys(spec.mutators)) if (n in builtinMutators) throw new Error(`defineSimulation(${spec.name}): mutator "${n}" would shadow a built-in mutator`);
  if (Object.keys(spec.invariants).length === 0) throw new Error(`defineSimulation(${spec.name}): give at least one invariant`);
  for (const [n, inv] of Object.entries(spec.invariants)) if (!inv.final && !inv.live) throw new Error(`defineSimulation(${spec.name}): invariant "${n}" has neither final nor live`);
  const builtins = spec.builtins ?? 0;
  if (!(builtins >= 0 && builtins <= 1)) throw new Error(`defineSimulation(${spec.name}): builtins must be in [0, 1]`);
  const file = callerFile();
  return { ...spec, kind: 'lockstep-simulation', ...(file ? { file } : {}) };
}

export function isSimulation(v: unknown): v is Simulation {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'lockstep-simulation';
}

/** The file that called defineSimulation, from the stack (best effort: tsx, vitest and Node keep source paths). */
function callerFile(): string | undefined {
  const lines = (new Error().stack ?? '').split('\n').slice(1);
  for (const line of lines) {
    const m = /\(?((?:file:\/\/)?\/[^():]+?\.[mc]?[jt]sx?)(?::\d+){1,2}\)?\s*$/.exec(line.trim());
    if (!m) continue;
    const path = m[1]!.startsWith('file://') ? fileURLToPath(m[1]!) : m[1]!;
    if (/[/\\](src[/\\]sim[/\\]app|lib[/\\]sim[/\\]app)[/\\]define\.[jt]s$/.test(path) || /[/\\]node_modules[/\\]vitest[/\\]/.test(path)) continue;
    return path;
  }
  return undefined;
}
