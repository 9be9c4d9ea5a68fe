import { serverProcessSchema } from '../server-process.ts';
import { z } from 'zod';
import { faultRatesSchema, networkSchema, simConfigSchema, syncLoopSchema } from '../config.ts';
import { wideWorkloadSchema } from '../wide-workload.ts';

export const violationSchema = z.object({
  checker: z.string(),
  message: z.string(),
  lane: z.string().optional(),
  clientID: z.string().optional(),
  key: z.string().optional(),
  version: z.number().optional(),
  t: z.number().optional(),
});

export const seedReportSchema = z.object({
  seed: z.string(),
  verdict: z.enum(['converged', 'violation']),
  violations: z.array(violationSchema),
  traceHash: z.string(),
  stats: z.object({
    events: z.number().int(),
    traceEvents: z.number().int(),
    mutations: z.number().int(),
    pushes: z.number().int(),
    pulls: z.number().int(),
    statements: z.number().int(),
    faults: z.record(z.string(), z.number().int()),
    serverErrors: z.number().int(),
    /** How often each checker looked (observe hooks per pull, final hooks once). */
    checks: z.record(z.string(), z.number().int()).optional(),
    virtualMs: z.number(),
    wallMs: z.number(),
  }),
  /** The seed's own network and fault rates (under --profile swarm every seed draws its own). */
  mix: z.object({ network: networkSchema, faults: faultRatesSchema, syncLoop: syncLoopSchema.optional(), wide: wideWorkloadSchema.optional(), serverProcess: serverProcessSchema.optional() }).optional(),
  /** Set when --check-determinism ran the seed twice. */
  deterministic: z.boolean().optional(),
  replayFile: z.string().optional(),
  /** Schedule events of the failing run, and of its shrunk schedule. */
  events: z.number().int().optional(),
  shrunkEvents: z.number().int().optional(),
  shrunkReplayFile: z.string().optional(),
  shrinkSeconds: z.number().optional(),
});
export type SeedReport = z.infer<typeof seedReportSchema>;

export const reportSchema = z.object({
  tool: z.literal('lockstep'),
  version: z.string(),
  commit: z.string(),
  createdAt: z.string(),
  config: simConfigSchema.omit({ seed: true }).extend({ firstSeed: z.string(), seeds: z.number().int() }),
  seeds: z.array(seedReportSchema),
  totals: z.object({
    seeds: z.number().int(),
    converged: z.number().int(),
    violations: z.number().int(),
    events: z.number().int(),
    mutations: z.number().int(),
    statements: z.number().int(),
    wallMs: z.number(),
    byChecker: z.record(z.string(), z.number().int()),
    /** Fault coverage of the sweep: how many of each fault happened, and how often each checker looked. */
    faults: z.record(z.string(), z.number().int()).optional(),
    checks: z.record(z.string(), z.number().int()).optional(),
  }),
  /** With --coverage: production lines and branches the simulator reached, per file. */
  coverage: z.array(z.object({
    file: z.string(),
    lines: z.object({ covered: z.number().int(), total: z.number().int() }),
    branches: z.object({ covered: z.number().int(), total: z.number().int() }),
    unreached: z.string(),
  })).optional(),
});
export type Report = z.infer<typeof reportSchema>;
