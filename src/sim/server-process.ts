import { z } from 'zod';
import { httpLimitEnv } from '../server/http/options.ts';

/**
 * How the simulated server process is configured, as an operator configures production: a
 * compaction schedule (createSyncServer's `compaction` and `retention`) and the HTTP layer's
 * limits (LOCKSTEP_* variables: rate limits, poke streams). Swarm draws it per seed, so that
 * 429s, refused poke streams, dropped slow poke readers and scheduled compactions happen at low
 * rates next to everything else. Absent (fixed profiles, older replay files): production defaults.
 */
export const serverProcessSchema = z.object({
  compaction: z.object({ everyMs: z.number().int().positive(), keepVersions: z.number().int().nonnegative() }).optional(),
  http: z
    .object({
      syncPerSecond: z.number().positive(),
      syncBurst: z.number().positive(),
      registerPerSecond: z.number().positive(),
      registerBurst: z.number().positive(),
      pokeMaxConnections: z.number().int().positive(),
      pokeHeartbeatMs: z.number().int().positive(),
      pokeBufferBytes: z.number().int().positive(),
      rateLimitKeys: z.number().int().positive(),
    })
    .partial()
    .optional(),
  /** createSyncServer's limits (ServerLimits): a push budget below the client's batch, so a push is done in parts. */
  limits: z.object({ maxMutationsPerPush: z.number().int().positive() }).partial().optional(),
});
export type ServerProcessConfig = z.infer<typeof serverProcessSchema>;

/** One seed's draw: each setting departs from the production default in a share of the seeds. */
export function drawServerProcess(next: () => number): ServerProcessConfig {
  const pick = (lo: number, hi: number) => Math.floor(lo + next() * (hi - lo + 1));
  const sometimes = <T>(p: number, v: () => T): T | undefined => {
    const on = next() < p;
    const value = v();
    return on ? value : undefined;
  };
  const compaction = sometimes(0.5, () => ({ everyMs: pick(1_000, 10_000), keepVersions: pick(0, 40) }));
  // Tight enough that a client's retries after errors run into them now and then.
  const sync = sometimes(0.25, () => ({ syncPerSecond: pick(2, 10), syncBurst: pick(3, 20) }));
  const register = sometimes(0.2, () => ({ registerPerSecond: pick(1, 3) / 4, registerBurst: pick(1, 3) }));
  const pokeMaxConnections = sometimes(0.25, () => pick(1, 6));
  const pokeHeartbeatMs = sometimes(0.5, () => pick(300, 5_000));
  // Below one event's size: every stream is dropped as a slow reader at its first poke.
  const pokeBufferBytes = sometimes(0.15, () => pick(8, 120));
  // Drawn last, so that adding them left every seed's earlier draws as they were: few rate-limit
  // buckets (the oldest is evicted), and a server push budget of a few mutations.
  const rateLimitKeys = sometimes(0.15, () => pick(1, 4));
  // On in a quarter of the seeds (it was drawn with p = 0 before, so the other draws, and the
  // configuration of every seed without a budget, stayed as they were). The heal bound covers
  // what a budget of 1 and a tight rate limit can drain (heal-capacity.ts).
  const maxMutationsPerPush = sometimes(0.25, () => pick(1, 10));
  const http = { ...sync, ...register, ...(pokeMaxConnections ? { pokeMaxConnections } : {}), ...(pokeHeartbeatMs ? { pokeHeartbeatMs } : {}), ...(pokeBufferBytes ? { pokeBufferBytes } : {}), ...(rateLimitKeys ? { rateLimitKeys } : {}) };
  return { ...(compaction ? { compaction } : {}), ...(Object.keys(http).length ? { http } : {}), ...(maxMutationsPerPush ? { limits: { maxMutationsPerPush } } : {}) };
}

export function describeServerProcess(p: ServerProcessConfig | undefined): string[] {
  if (!p) return [];
  const parts: string[] = [];
  if (p.compaction) parts.push(`compact every ${p.compaction.everyMs} keep ${p.compaction.keepVersions}`);
  if (p.http) parts.push(`http ${Object.entries(p.http).map(([k, v]) => `${k} ${v}`).join(' ')}`);
  if (p.limits?.maxMutationsPerPush) parts.push(`server push budget ${p.limits.maxMutationsPerPush}`);
  return parts;
}

/**
 * The drawn HTTP settings as the operator writes them: LOCKSTEP_* environment variables (text),
 * which the simulator's server reads through httpLimitsFromEnv, as production's startup does
 * (openSyncApiFromEnv). A setting the seed leaves at its default is not set.
 */
export function serverEnv(p: ServerProcessConfig | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(p?.http ?? {})) env[httpLimitEnv[k as keyof typeof httpLimitEnv]] = String(v);
  return env;
}
