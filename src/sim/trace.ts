import { createHash } from 'node:crypto';

export interface TraceEvent {
  /** Virtual ms. */
  t: number;
  /** Lane: a client name, 'server', or 'sim'. */
  lane: string;
  kind: string;
  detail?: string;
}

/** Details this short are kept once however often they recur ("poke#12" at each of 1,000 clients). */
const INTERN_MAX = 32;

/**
 * A run's trace, stored by column: times in a Float64Array, lanes and kinds as indexes into
 * their tables, short details interned. An event object each (four fields, a fresh detail
 * string) cost about 100 bytes; at 1,000 clients millions of poke events made the trace a
 * quarter of a GB. Events come back as TraceEvent objects on demand (`events()`, `at(i)`).
 */
export class Trace {
  private times = new Float64Array(1024);
  private lanes = new Int32Array(1024);
  private kinds = new Int32Array(1024);
  private details: (string | undefined)[] = [];
  private readonly laneIds = new Map<string, number>();
  private readonly laneNames: string[] = [];
  private readonly kindIds = new Map<string, number>();
  private readonly kindNames: string[] = [];
  private readonly interned = new Map<string, string>();
  length = 0;

  push(t: number, lane: string, kind: string, detail?: string): void {
    const i = this.length;
    if (i === this.times.length) this.grow();
    this.times[i] = t;
    this.lanes[i] = id(this.laneIds, this.laneNames, lane);
    this.kinds[i] = id(this.kindIds, this.kindNames, kind);
    this.details.push(detail !== undefined && detail.length <= INTERN_MAX ? this.intern(detail) : detail);
    this.length = i + 1;
  }

  at(i: number): TraceEvent {
    if (i < 0 || i >= this.length) throw new RangeError(`trace event ${i} of ${this.length}`);
    const detail = this.details[i];
    const e: TraceEvent = { t: this.times[i]!, lane: this.laneNames[this.lanes[i]!]!, kind: this.kindNames[this.kinds[i]!]! };
    if (detail !== undefined) e.detail = detail;
    return e;
  }

  /**
   * The events one at a time: a pass over a long trace (the run's fault counts) without building
   * every event object at once (at 1,000 clients that array was a spike of a few hundred MB).
   */
  *[Symbol.iterator](): IterableIterator<TraceEvent> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }

  /** Every event as an object (what reports and tests read). */
  events(): TraceEvent[] {
    const out = new Array<TraceEvent>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.at(i);
    return out;
  }

  /** The trace hash: the same digest as hashTrace over events() (lines `t|lane|kind|detail`). */
  hash(): string {
    const h = createHash('sha256');
    // Lines in chunks: one update per event was a large share of hashing a long trace.
    let chunk = '';
    for (let i = 0; i < this.length; i++) {
      chunk += `${this.times[i]}|${this.laneNames[this.lanes[i]!]}|${this.kindNames[this.kinds[i]!]}|${this.details[i] ?? ''}\n`;
      if (chunk.length > 1 << 16) {
        h.update(chunk);
        chunk = '';
      }
    }
    h.update(chunk);
    return h.digest('hex').slice(0, 16);
  }

  private intern(s: string): string {
    const known = this.interned.get(s);
    if (known !== undefined) return known;
    this.interned.set(s, s);
    return s;
  }

  private grow(): void {
    const n = this.times.length * 2;
    const times = new Float64Array(n);
    times.set(this.times);
    const lanes = new Int32Array(n);
    lanes.set(this.lanes);
    const kinds = new Int32Array(n);
    kinds.set(this.kinds);
    this.times = times;
    this.lanes = lanes;
    this.kinds = kinds;
  }
}

function id(ids: Map<string, number>, names: string[], name: string): number {
  let n = ids.get(name);
  if (n === undefined) {
    n = names.length;
    names.push(name);
    ids.set(name, n);
  }
  return n;
}

/** The trace hash of events (a replay file's `traceHash`): sha256 of their lines, 16 hex digits. */
export function hashTrace(trace: readonly TraceEvent[]): string {
  const h = createHash('sha256');
  for (const e of trace) h.update(`${e.t}|${e.lane}|${e.kind}|${e.detail ?? ''}\n`);
  return h.digest('hex').slice(0, 16);
}
