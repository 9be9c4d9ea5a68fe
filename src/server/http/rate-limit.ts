import type { Clock } from '../../seams/index.ts';

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * A token bucket per key: `burst` requests at once, refilled at `perSecond`. Time comes from the
 * Clock seam. Remembers at most `maxKeys` keys (oldest first out), so a flood of distinct keys
 * costs bounded memory; a forgotten key starts again with a full bucket.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly clock: Clock,
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly maxKeys: number,
  ) {}

  /** Takes one token for `key`: 0 when allowed, else the whole seconds until one is available. */
  take(key: string): number {
    const now = this.clock.now();
    let b = this.buckets.get(key);
    if (b) {
      // Refresh the key's place in the eviction order.
      this.buckets.delete(key);
      b.tokens = Math.min(this.burst, b.tokens + (Math.max(0, now - b.at) / 1000) * this.perSecond);
      b.at = now;
    } else {
      b = { tokens: this.burst, at: now };
    }
    this.buckets.set(key, b);
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.perSecond));
  }
}
