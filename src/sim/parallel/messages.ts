import type { ConfigInput } from '../scenario.ts';
import type { SeedOutcome, ShrunkOutcome, RunSeedOptions } from './seed-runner.ts';

/** What a worker needs to build any seed's configuration by itself: the run's flags, minus the seed. */
export interface WorkerJob {
  input: Omit<ConfigInput, 'seed'>;
}

export type ToWorker =
  | { type: 'init'; job: WorkerJob }
  | { type: 'run'; id: number; seed: string; options: RunSeedOptions }
  | { type: 'shrink'; id: number; seed: string; budgetMs: number }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'ready'; rss: number }
  | { type: 'result'; id: number; outcome: SeedOutcome; rss: number }
  | { type: 'shrunk'; id: number; outcome: ShrunkOutcome; rss: number }
  | { type: 'shrink-step'; id: number; what: string; events: number }
  | { type: 'error'; id: number | null; message: string };
