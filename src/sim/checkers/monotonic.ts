import type { Checker, Violation } from './types.ts';

/** A client's cookie and last mutation id never go back (across its restarts too: they are durable). */
export const monotonic: Checker = (s) => {
  const last = new Map<string, { cookie: number; lmid: number; t: number }>();
  const out: Violation[] = [];
  for (const o of s.observations) {
    const prev = last.get(o.clientID);
    const cookie = o.cookie ?? -1;
    if (prev && cookie < prev.cookie) {
      out.push({ checker: 'monotonic', lane: o.lane, clientID: o.clientID, t: o.t, message: `${o.lane}'s cookie went back from ${prev.cookie} to ${o.cookie}` });
    }
    if (prev && o.lastMutationID < prev.lmid) {
      out.push({ checker: 'monotonic', lane: o.lane, clientID: o.clientID, t: o.t, message: `${o.lane}'s last mutation id went back from ${prev.lmid} to ${o.lastMutationID}` });
    }
    last.set(o.clientID, { cookie: Math.max(cookie, prev?.cookie ?? -1), lmid: Math.max(o.lastMutationID, prev?.lmid ?? 0), t: o.t });
  }
  return out.slice(0, 20);
};
