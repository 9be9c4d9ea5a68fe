import type { Checker, Violation } from './types.ts';

/**
 * Tallies are only ever incremented, so each one's final value is the sum of every increment the
 * workload asked for whose mutation reached the log. Catches lost (last-writer-wins) and doubled increments.
 * A logged increment no acknowledged write claims (its client crashed inside mutate(), after the
 * write was stored: the app never saw it succeed, but it syncs) counts with the args the log holds.
 */
export const counters: Checker = (s) => {
  const applied = s.server.log.filter((e) => e.error === null);
  const logged = new Set(applied.map((e) => `${e.clientID}#${e.mutationID}`));
  const claimed = new Set<string>();
  const expected = new Map<string, number>();
  const add = (key: string, by: number) => expected.set(key, (expected.get(key) ?? 0) + by);
  for (const q of s.queued) {
    const ids = [`${q.clientID}#${q.mutationID}`, ...(q.formerIDs ?? [])];
    for (const id of ids) claimed.add(id);
    const intent = q.intent;
    if (!intent || intent.type !== 'tally') continue;
    // A re-queued mutation counts once, under whichever identity the server applied it.
    if (!ids.some((id) => logged.has(id))) continue;
    add(`${intent.type}/${intent.id}`, intent.by);
  }
  for (const e of applied) {
    const a = e.args as { type?: unknown; id?: unknown; field?: unknown; by?: unknown } | null;
    if (e.name !== 'increment' || a?.type !== 'tally' || a.field !== 'n' || typeof a.by !== 'number' || claimed.has(`${e.clientID}#${e.mutationID}`)) continue;
    add(`tally/${String(a.id)}`, a.by);
  }
  const out: Violation[] = [];
  for (const [key, want] of [...expected].sort()) {
    const got = s.server.entities.get(key)?.n;
    if (got !== want) out.push({ checker: 'counters', key, t: s.t, lane: 'server', message: `${key}.n is ${got ?? 'missing'}, but the increments that reached the log add up to ${want}` });
  }
  return out;
};
