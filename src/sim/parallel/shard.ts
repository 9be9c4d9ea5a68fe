import { UsageError } from '../scenario.ts';
import { seedAt, type SeedPlan } from '../sweep.ts';

export interface Shard {
  /** 1-based, as GitHub Actions matrices count. */
  index: number;
  count: number;
}

export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) throw new UsageError(`--shard must be i/n with 1 <= i <= n (e.g. 2/4), got "${text}"`);
  return { index, count };
}

/**
 * The seeds of a sweep from `first` (`total` of them, or open-ended for a campaign), sliced
 * strided: shard i/n runs the seeds at positions i-1, i-1+n, i-1+2n, ... Strided slices stay
 * balanced when seeds differ in cost, and work for campaigns whose length nobody knows up front.
 */
export function seedPlan(first: string, total: number | undefined, shard: Shard = { index: 1, count: 1 }): SeedPlan {
  const position = (k: number) => shard.index - 1 + k * shard.count;
  const count = total === undefined ? undefined : Math.max(0, Math.ceil((total - (shard.index - 1)) / shard.count));
  // A single string seed runs as itself, as `--seed abc` always has.
  const single = total === 1 && !(Number.isSafeInteger(Number(first)) && String(Number(first)) === first);
  return {
    count,
    at: (k) => (count !== undefined && k >= count ? undefined : single ? first : seedAt(first, position(k))),
  };
}
