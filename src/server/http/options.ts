import { z } from 'zod';
import { realTimer, systemClock, type Clock, type Timer } from '../../seams/index.ts';

/** Every limit of the HTTP layer, with its default and the env var that changes it. */
export interface HttpLimits {
  /** Largest request body (register, push, pull, server functions); counted while streaming. */
  maxBodyBytes: number;
  /** Most open /api/poke streams; the next one answers 503. */
  pokeMaxConnections: number;
  /** A `: heartbeat` comment on every poke stream this often, so proxies keep it open. */
  pokeHeartbeatMs: number;
  /** Bytes a poke stream may have queued unread before the slow consumer is dropped. */
  pokeBufferBytes: number;
  /** Push and pull requests per second per token (refill), and the burst a token may spend at once. */
  syncPerSecond: number;
  syncBurst: number;
  /** Registrations per second per client IP, and the burst. */
  registerPerSecond: number;
  registerBurst: number;
  /** Most distinct keys (tokens, IPs) the rate limiters remember; the oldest is forgotten first. */
  rateLimitKeys: number;
  /** Shortest and longest token a client may propose to /api/register (short ones can be guessed). */
  registerTokenMinChars: number;
  registerTokenMaxChars: number;
}

export const defaultHttpLimits: HttpLimits = {
  maxBodyBytes: 1_000_000,
  pokeMaxConnections: 1_000,
  pokeHeartbeatMs: 25_000,
  pokeBufferBytes: 64 * 1024,
  syncPerSecond: 20,
  syncBurst: 200,
  registerPerSecond: 1,
  registerBurst: 30,
  rateLimitKeys: 100_000,
  registerTokenMinChars: 32,
  registerTokenMaxChars: 256,
};

export const httpLimitEnv: Record<keyof HttpLimits, string> = {
  maxBodyBytes: 'LOCKSTEP_MAX_BODY_BYTES',
  pokeMaxConnections: 'LOCKSTEP_POKE_MAX_CONNECTIONS',
  pokeHeartbeatMs: 'LOCKSTEP_POKE_HEARTBEAT_MS',
  pokeBufferBytes: 'LOCKSTEP_POKE_BUFFER_BYTES',
  syncPerSecond: 'LOCKSTEP_SYNC_RATE_PER_SECOND',
  syncBurst: 'LOCKSTEP_SYNC_RATE_BURST',
  registerPerSecond: 'LOCKSTEP_REGISTER_RATE_PER_SECOND',
  registerBurst: 'LOCKSTEP_REGISTER_RATE_BURST',
  rateLimitKeys: 'LOCKSTEP_RATE_LIMIT_KEYS',
  registerTokenMinChars: 'LOCKSTEP_REGISTER_TOKEN_MIN_CHARS',
  registerTokenMaxChars: 'LOCKSTEP_REGISTER_TOKEN_MAX_CHARS',
};

const positive = z.coerce.number().positive().finite();

/** Limits from the environment; a malformed value is a startup error naming the variable. */
export function httpLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): HttpLimits {
  const limits = { ...defaultHttpLimits };
  for (const key of Object.keys(httpLimitEnv) as (keyof HttpLimits)[]) {
    const raw = env[httpLimitEnv[key]];
    if (raw === undefined || raw === '') continue;
    const parsed = positive.safeParse(raw);
    if (!parsed.success) throw new Error(`${httpLimitEnv[key]}=${JSON.stringify(raw)}: must be a positive number`);
    limits[key] = parsed.data;
  }
  return limits;
}

export interface SyncApiOptions {
  limits?: Partial<HttpLimits>;
  /** Time for the rate limiters. */
  clock?: Clock;
  /** Drives the poke heartbeat. */
  timer?: Timer;
  /** Where failures that have no client to tell go (a failing database close). */
  log?: (message: string) => void;
}

export interface ResolvedOptions {
  limits: HttpLimits;
  clock: Clock;
  timer: Timer;
  log: (message: string) => void;
}

/** The token length bounds are whole numbers, min <= max; anything else is a startup error naming the limit. */
function checkTokenBounds(l: HttpLimits): void {
  for (const k of ['registerTokenMinChars', 'registerTokenMaxChars'] as const) {
    if (!Number.isInteger(l[k]) || l[k] < 1) throw new Error(`${k} (${httpLimitEnv[k]}) must be a positive integer, got ${String(l[k])}`);
  }
  if (l.registerTokenMinChars > l.registerTokenMaxChars) {
    throw new Error(`registerTokenMinChars (${l.registerTokenMinChars}) is over registerTokenMaxChars (${l.registerTokenMaxChars})`);
  }
}

export function resolveOptions(o: SyncApiOptions = {}): ResolvedOptions {
  const limits = { ...defaultHttpLimits, ...o.limits };
  checkTokenBounds(limits);
  return {
    limits,
    clock: o.clock ?? systemClock,
    timer: o.timer ?? realTimer,
    log: o.log ?? ((m) => console.error(m)),
  };
}
