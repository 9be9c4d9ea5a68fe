/** The compact trace gives back the events it was given, and the hash the event list always had. */
import { describe, expect, it } from 'vitest';
import { Trace, hashTrace, type TraceEvent } from './trace.ts';

describe('Trace', () => {
  it('round-trips events and hashes them as hashTrace does, across growth', () => {
    const trace = new Trace();
    const events: TraceEvent[] = [];
    for (let i = 0; i < 5000; i++) {
      const e: TraceEvent = { t: i % 7 === 0 ? i + 0.5 : i * 3, lane: i % 3 === 0 ? 'server' : `c${i % 11}`, kind: ['poke', 'push-send', 'mutation'][i % 3]! };
      if (i % 5 !== 0) e.detail = i % 2 ? `poke#${i % 40}` : `upsert #${i} ${JSON.stringify({ long: 'x'.repeat(i % 50) })}`;
      if (i === 17) e.detail = '';
      events.push(e);
      trace.push(e.t, e.lane, e.kind, e.detail);
    }
    expect(trace.length).toBe(events.length);
    expect(trace.events()).toEqual(events);
    // One at a time (the run's fault counts) gives the same events.
    expect([...trace]).toEqual(events);
    expect(trace.at(17)).toEqual(events[17]);
    expect(trace.hash()).toBe(hashTrace(events));
    // A different event changes the hash (the hash reads every column).
    const other = new Trace();
    for (const e of events.slice(0, -1)) other.push(e.t, e.lane, e.kind, e.detail);
    other.push(events.at(-1)!.t, events.at(-1)!.lane, events.at(-1)!.kind, 'changed');
    expect(other.hash()).not.toBe(trace.hash());
  });
});
