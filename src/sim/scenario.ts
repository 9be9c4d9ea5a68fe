import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { defaultSyncLoop, defaultWorkload, faultRatesSchema, networkSchema, profileNames, profiles, simConfigSchema, swarmProfile, workloadSchema, type SimConfig } from './config.ts';
import { Rng } from './rng.ts';

/** A named scenario file: what to run, with optional overrides of the profile's network and faults. */
export const scenarioSchema = z.object({
  name: z.string().min(1),
  description: z.string().optional(),
  clients: z.number().int().min(1).max(5000).optional(),
  steps: z.number().int().min(1).optional(),
  stepMs: z.number().int().positive().optional(),
  seeds: z.number().int().min(1).optional(),
  profile: z.enum(profileNames).optional(),
  workload: workloadSchema.partial().optional(),
  network: networkSchema.partial().optional(),
  faults: faultRatesSchema.partial().optional(),
  healBudgetMs: z.number().int().positive().optional(),
  dbLatencyMs: z.number().int().nonnegative().optional(),
}).strict();
export type Scenario = z.infer<typeof scenarioSchema>;

export class UsageError extends Error {
  override name = 'UsageError';
}

export function loadScenario(path: string): Scenario {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read scenario ${path}: ${(e as Error).message}`);
  }
  const parsed = scenarioSchema.safeParse(raw);
  if (!parsed.success) {
    throw new UsageError(`invalid scenario ${path}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

export interface ConfigInput {
  seed: string;
  clients?: number;
  steps?: number;
  profile?: SimConfig['profile'];
  server?: SimConfig['server'];
  bug?: string;
  scenario?: Scenario;
  /** The app simulation the run belongs to (recorded in the config and so in replay files). */
  simulation?: SimConfig['simulation'];
  /** --seed-max-steps / --seed-max-virtual-seconds (run-guard.ts). */
  budget?: SimConfig['budget'];
}

/** Flags win over the scenario, the scenario over the profile, the profile over defaults. */
export function buildConfig(input: ConfigInput): SimConfig {
  const sc = input.scenario;
  const profile = input.profile ?? sc?.profile ?? 'chaos';
  // swarm draws from the seed itself, so each seed has its own mix, reproducibly.
  const swarmRng = new Rng(input.seed).fork('swarm');
  const swarm = profile === 'swarm' ? swarmProfile(() => swarmRng.next()) : profiles[profile];
  const config = {
    seed: input.seed,
    clients: input.clients ?? sc?.clients ?? 8,
    steps: input.steps ?? sc?.steps ?? 300,
    stepMs: sc?.stepMs ?? 50,
    profile,
    server: input.server ?? 'pglite',
    ...(input.bug ? { bug: input.bug } : {}),
    workload: { ...defaultWorkload, ...sc?.workload },
    network: { ...swarm.network, ...sc?.network },
    faults: { ...swarm.faults, ...sc?.faults },
    healBudgetMs: sc?.healBudgetMs ?? 120_000,
    dbLatencyMs: sc?.dbLatencyMs ?? 3,
    rebaseCheckRate: 0.5,
    ...(input.simulation ? { simulation: input.simulation } : {}),
    syncLoop: 'syncLoop' in swarm ? swarm.syncLoop : defaultSyncLoop,
    ...('wide' in swarm ? { wide: swarm.wide } : {}),
    ...('serverProcess' in swarm ? { serverProcess: swarm.serverProcess } : {}),
    ...(input.budget ? { budget: input.budget } : {}),
  };
  const parsed = simConfigSchema.safeParse(config);
  if (!parsed.success) throw new UsageError(`invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/**
 * The configuration of one seed of a sweep: the base with that seed, and for the swarm profile the
 * seed's own fault mix (scenario overrides of the network and fault rates still win).
 */
export function configForSeed(base: SimConfig, seed: string, scenario?: Scenario): SimConfig {
  if (base.profile !== 'swarm') return { ...base, seed };
  // The same draw as buildConfig's, so a seed run alone and in a sweep has the same mix.
  const rng = new Rng(seed).fork('swarm');
  const mix = swarmProfile(() => rng.next());
  return { ...base, seed, network: { ...mix.network, ...scenario?.network }, faults: { ...mix.faults, ...scenario?.faults } as SimConfig['faults'], syncLoop: mix.syncLoop, wide: mix.wide, serverProcess: mix.serverProcess };
}
