import { defaultHttpLimits } from '../server/http/options.ts';
import { defaultServerLimits as defaultLimits } from '../server/limits.ts';
import type { SimWorld } from './world.ts';

/** What the configuration lets the clients still behind at the heal bound drain, and how long that takes. */
export interface HealCapacity {
  /** Requests still needed: pushes (backlog / mutations acknowledged per push) plus pull pages. */
  requests: number;
  /** Virtual ms those requests need at the configured rate limit and network latency, with the margin. */
  ms: number;
  /** One line for the trace and the liveness message. */
  detail: string;
}

/** Room for what a drain also waits on: pull ahead of pushes, 429s before the bucket refills, backoff jitter, pokes. */
const margin = 2;
/** The extension never goes past this many heal bounds (a seed's virtual time stays bounded). */
export const maxExtensionBounds = 4;

/**
 * The time the configuration needs to drain what is still behind when the heal bound is reached.
 * A server push budget of B mutations and a rate limit of R sync requests/s per token (a client
 * group) drain at most B x R mutations/s per group, and every request costs a round trip: 120 s
 * of heal cannot cover a backlog of 300 at B = 1 and R = 2, and that is the configuration, not
 * a liveness defect. Read only at the bound (the reads are scheduling points): a seed that heals
 * in time has the same trace as without this.
 */
export async function healCapacity(world: SimWorld): Promise<HealCapacity> {
  const { config } = world;
  const version = await world.server.database.version();
  const budget = config.serverProcess?.limits?.maxMutationsPerPush ?? defaultLimits.maxMutationsPerPush;
  const perPush = Math.min(budget, config.wide?.pushBatchSize ?? 100);
  const pageSize = Math.min(config.wide?.pageSize ?? defaultLimits.pageSize, defaultLimits.pageSize);
  const rate = config.serverProcess?.http?.syncPerSecond ?? defaultHttpLimits.syncPerSecond;
  const roundTripMs = 2 * config.network.latencyMs[1];
  const perGroup = new Map<string, number>();
  let requests = 0;
  let slowestClientMs = 0;
  for (const c of world.clients) {
    if (!c.engine) continue;
    const pending = await c.engine.store.pendingCount();
    const cookie = (await c.engine.store.readMeta())?.cookie ?? null;
    const behind = Math.max(0, version - (cookie ?? 0));
    const n = Math.ceil(pending / perPush) + Math.ceil(behind / pageSize) + 1;
    requests += n;
    slowestClientMs = Math.max(slowestClientMs, n * roundTripMs);
    perGroup.set(c.engine.clientGroupID, (perGroup.get(c.engine.clientGroupID) ?? 0) + n);
  }
  const busiestGroup = Math.max(0, ...perGroup.values());
  const ms = Math.ceil(margin * Math.max(slowestClientMs, (busiestGroup / rate) * 1000));
  return {
    requests,
    ms,
    detail: `${requests} requests left (push budget ${budget}, pushes of ${perPush}, pages of ${pageSize}, ${rate} syncs/s per group, round trip up to ${roundTripMs} ms): ${ms} ms`,
  };
}
