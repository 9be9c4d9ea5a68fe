import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { simConfigSchema } from './config.ts';
import { scheduleEventSchema } from './schedule.ts';
import { UsageError } from './scenario.ts';
import type { RunResult } from './run.ts';

/** A replay file: the config and the explicit schedule, and what the run found, to reproduce it exactly. */
export const replayFileSchema = z.object({
  format: z.literal('lockstep-replay'),
  version: z.literal(1),
  config: simConfigSchema,
  schedule: z.array(scheduleEventSchema),
  expected: z.object({
    traceHash: z.string(),
    verdict: z.enum(['converged', 'violation']),
    violations: z.array(z.object({ checker: z.string(), message: z.string() })),
  }),
  shrunkFrom: z.object({ events: z.number().int(), clients: z.number().int() }).optional(),
});
export type ReplayFile = z.infer<typeof replayFileSchema>;

export function toReplayFile(r: RunResult, shrunkFrom?: ReplayFile['shrunkFrom']): ReplayFile {
  return {
    format: 'lockstep-replay',
    version: 1,
    config: r.config,
    schedule: r.schedule,
    expected: { traceHash: r.traceHash, verdict: r.verdict, violations: r.violations.map((v) => ({ checker: v.checker, message: v.message })) },
    ...(shrunkFrom ? { shrunkFrom } : {}),
  };
}

export function writeReplayFile(path: string, file: ReplayFile): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(file, null, 1) + '\n');
}

export function readReplayFile(path: string): ReplayFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read replay file ${path}: ${(e as Error).message}`);
  }
  const version = (raw as { version?: unknown } | null)?.version;
  if ((raw as { format?: unknown } | null)?.format === 'lockstep-replay' && version !== 1) {
    throw new UsageError(`replay file ${path} has format version ${JSON.stringify(version)}; this lockstep reads lockstep-replay version 1`);
  }
  const parsed = replayFileSchema.safeParse(raw);
  if (!parsed.success) throw new UsageError(`invalid replay file ${path}: ${parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}
