import seedrandom from 'seedrandom';

/**
 * A seeded PRNG. One seed makes one root; `fork(label)` derives an independent stream by name,
 * so that removing an event from a schedule does not shift the random draws of unrelated parts
 * (which keeps shrunk schedules meaningful).
 */
export class Rng {
  readonly seed: string;
  private readonly prng: seedrandom.PRNG;

  constructor(seed: string | number) {
    this.seed = String(seed);
    this.prng = seedrandom(this.seed);
  }

  fork(label: string | number): Rng {
    return new Rng(`${this.seed}/${label}`);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.prng.quick();
  }

  /** Integer in [lo, hi], inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Picks a key by weight from a record of non-negative weights. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = (Object.entries(weights) as [K, number][]).filter(([, w]) => w > 0);
    const total = entries.reduce((s, [, w]) => s + w, 0);
    if (total <= 0) throw new Error('weighted pick with no positive weight');
    let r = this.next() * total;
    for (const [k, w] of entries) {
      r -= w;
      if (r < 0) return k;
    }
    return entries[entries.length - 1]![0];
  }
}
