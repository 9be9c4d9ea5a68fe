import type { Checker, Violation } from './types.ts';

/** Every mutation a client durably queued is in the log after heal, unless its storage was wiped on purpose. */
export const noLostWrite: Checker = (s) => {
  const logged = new Set(s.server.log.map((e) => `${e.clientID}#${e.mutationID}`));
  const out: Violation[] = [];
  for (const q of s.queued) {
    if (s.wipedClientIDs.has(q.clientID)) continue;
    if (!logged.has(`${q.clientID}#${q.mutationID}`)) {
      out.push({ checker: 'no-lost-write', lane: q.lane, clientID: q.clientID, t: s.t, message: `${q.lane} queued ${q.name} #${q.mutationID} (${q.clientID}) at ${q.t} ms, and it never reached the log` });
    }
  }
  return out.slice(0, 20);
};
