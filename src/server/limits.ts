import { defaultLimits, maxOriginClientsPerPush, maxOriginsPerMutation, type Limits } from '../protocol/index.ts';

/**
 * The server's limits: the shared value limits plus the work one request may cause. Every one
 * has a default and is set through ServerDatabaseOptions.limits (or createSyncServer's limits).
 */
export interface ServerLimits extends Limits {
  /** Most mutations one push applies; past it the push stops and reports how far it got. */
  maxMutationsPerPush: number;
  /** Most bytes of effects (encoded JSON of the written documents) one push writes. */
  maxEffectBytesPerPush: number;
  /** Most bytes of log effects (or snapshot documents) one pull page carries; one larger commit still goes alone. */
  pageBytes: number;
  /** Most replication-log rows one pull page covers (a commit with more still goes alone). */
  pageSize: number;
  /** Most origins (earlier identities) one pushed mutation may carry; over it the push is refused (400). */
  maxOriginsPerMutation: number;
  /** Most distinct client ids the origins of one push may name (their rows are locked); over it, 400. */
  maxOriginClientsPerPush: number;
}

export const defaultServerLimits: ServerLimits = {
  ...defaultLimits,
  maxMutationsPerPush: 500,
  maxEffectBytesPerPush: 8 * 1024 * 1024,
  pageBytes: 4 * 1024 * 1024,
  pageSize: 25_000,
  maxOriginsPerMutation,
  maxOriginClientsPerPush,
};

/** Defaults overridden by what is given; a limit that is not a positive integer is refused at startup. */
export function resolveLimits(given: Partial<ServerLimits> = {}): ServerLimits {
  const limits = { ...defaultServerLimits };
  for (const [k, v] of Object.entries(given) as [keyof ServerLimits, unknown][]) {
    if (v === undefined) continue;
    if (!(k in defaultServerLimits)) throw new Error(`unknown server limit "${k}"`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`server limit ${k} must be a positive integer, got ${String(v)}`);
    limits[k] = v;
  }
  return limits;
}
