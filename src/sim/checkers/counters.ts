import type { Checker, Violation } from './types.ts';

/**
 * Tallies are only ever incremented, so each one's final value is the sum of every increment the
 * workload asked for whose mutation reached the log. Catches lost (last-writer-wins) and doubled increments.
 */
export const counters: Checker = (s) => {
  const logged = new Set(s.server.log.filter((e) => e.error === null).map((e) => `${e.clientID}#${e.mutationID}`));
  const expected = new Map<string, number>();
  for (const q of s.queued) {
    const intent = q.intent;
    if (!intent || intent.type !== 'tally') continue;
    // A re-queued mutation counts once, under whichever identity the server applied it.
    if (!logged.has(`${q.clientID}#${q.mutationID}`) && !q.formerIDs?.some((id) => logged.has(id))) continue;
    const key = `${intent.type}/${intent.id}`;
    expected.set(key, (expected.get(key) ?? 0) + intent.by);
  }
  const out: Violation[] = [];
  for (const [key, want] of [...expected].sort()) {
    const got = s.server.entities.get(key)?.n;
    if (got !== want) out.push({ checker: 'counters', key, t: s.t, lane: 'server', message: `${key}.n is ${got ?? 'missing'}, but the increments that reached the log add up to ${want}` });
  }
  return out;
};
