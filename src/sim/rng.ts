/** Key scratch for the constructor (one run at a time: no await inside). */
const KEY = new Uint8Array(256);

/**
 * seedrandom's mixkey over a key given in parts, as if concatenated: key[j & 255] = 255 &
 * ((smear ^= key[j & 255] * 19) + charCode), an unset key byte counting as 0. The scheduler's
 * pick among ready tasks names its stream by every ready task's label: concatenating them at each
 * step was a large share of a 1,000-client run.
 */
export class KeyMix {
  private smear = 0;
  length = 0;

  add(str: string): this {
    let smear = this.smear;
    let j = this.length;
    for (let i = 0; i < str.length; i++, j++) {
      const k = j & 255;
      if (j >= 256) smear ^= KEY[k]! * 19;
      KEY[k] = (smear + str.charCodeAt(i)) & 255;
    }
    this.smear = smear;
    this.length = j;
    return this;
  }

  /** The stream of the key mixed so far (what new Rng(the concatenation) gives). Nothing else may mix in between. */
  rng(): Rng {
    return new Rng('', this.length);
  }

  /** The mix so far, to continue from later (the key bytes live in a scratch every Rng reuses). */
  save(): MixState {
    return { key: KEY.slice(), smear: this.smear, length: this.length };
  }

  /** Continues a saved mix, as if its key had just been mixed. */
  static resume(state: MixState): KeyMix {
    KEY.set(state.key);
    const mix = new KeyMix();
    mix.smear = state.smear;
    mix.length = state.length;
    return mix;
  }
}

/** A KeyMix at some point (see save). */
export interface MixState {
  readonly key: Uint8Array;
  readonly smear: number;
  readonly length: number;
}

/**
 * A seeded PRNG. One seed makes one root; `fork(label)` derives an independent stream by name,
 * so that removing an event from a schedule does not shift the random draws of unrelated parts
 * (which keeps shrunk schedules meaningful).
 *
 * The generator is seedrandom 3.0.5's ARC4 (RC4-drop[256], key mixed from the seed string), drawn
 * with its `quick()`, reimplemented here bit for bit: the simulator forks a stream for every
 * task, message and multi-way pick, and seedrandom's constructor also mixes each new state into a
 * global entropy pool (and builds a string of it), which was most of the cost. rng.test.ts checks
 * the streams against seedrandom itself, so every seed's trace is what it was.
 */
export class Rng {
  readonly seed: string;
  private readonly s = new Uint8Array(256);
  private i = 0;
  private j = 0;

  /** With `mixedLength`, KEY already holds the mix of a key that long (KeyMix): the seed is only a name. */
  constructor(seed: string | number, mixedLength?: number) {
    this.seed = String(seed);
    let len: number;
    if (mixedLength !== undefined) len = mixedLength;
    else {
      const mix = new KeyMix();
      mix.add(this.seed);
      len = mix.length;
    }
    const keylen = len === 0 ? 1 : Math.min(len, 256);
    if (len === 0) KEY[0] = 0;
    const s = this.s;
    for (let i = 0; i < 256; i++) s[i] = i;
    for (let i = 0, j = 0; i < 256; i++) {
      const t = s[i]!;
      j = (j + KEY[i % keylen]! + t) & 255;
      s[i] = s[j]!;
      s[j] = t;
    }
    // RC4-drop[256].
    let i = 0;
    let j = 0;
    for (let n = 0; n < 256; n++) {
      i = (i + 1) & 255;
      const t = s[i]!;
      j = (j + t) & 255;
      s[i] = s[j]!;
      s[j] = t;
    }
    this.i = i;
    this.j = j;
  }

  fork(label: string | number): Rng {
    return new Rng(`${this.seed}/${label}`);
  }

  /** Uniform in [0, 1). */
  next(): number {
    // seedrandom's quick(): four output bytes, big-endian, over 2^32.
    const s = this.s;
    let i = this.i;
    let j = this.j;
    let r = 0;
    for (let n = 0; n < 4; n++) {
      i = (i + 1) & 255;
      const t = s[i]!;
      j = (j + t) & 255;
      s[i] = s[j]!;
      s[j] = t;
      r = r * 256 + s[(s[i]! + t) & 255]!;
    }
    this.i = i;
    this.j = j;
    return r / 0x100000000;
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
