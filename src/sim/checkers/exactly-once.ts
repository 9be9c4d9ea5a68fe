import type { Checker, Violation } from './types.ts';

/**
 * Each clientID + mutation id at most once in the log, each client's ids contiguous from 1,
 * and one log entry per global version with versions 1..N.
 */
export const exactlyOnce: Checker = (s) => {
  const out: Violation[] = [];
  const seen = new Map<string, number>();
  const byClient = new Map<string, number[]>();
  s.server.log.forEach((e, i) => {
    const id = `${e.clientID}#${e.mutationID}`;
    const first = seen.get(id);
    if (first !== undefined) {
      out.push({ checker: 'exactly-once', clientID: e.clientID, version: e.version, t: s.t, message: `mutation ${e.mutationID} of ${e.clientID} is in the log twice, at versions ${first} and ${e.version}` });
    } else seen.set(id, e.version);
    byClient.set(e.clientID, [...(byClient.get(e.clientID) ?? []), e.mutationID]);
    if (e.version !== i + 1) {
      out.push({ checker: 'exactly-once', version: e.version, t: s.t, message: `log entry ${i + 1} has version ${e.version}: versions must be 1..N, each once` });
    }
  });
  // A re-queued mutation (a reset, a group move) carries its earlier identities as origins: once
  // processed under its new id it fences them (the server raises their last ids), so a late push
  // of an earlier identity's later mutations starts past 1 (an app's sync beside the loop sent it
  // before the reset: swarm seed 6). An id fenced by the same mutation processed under another
  // identity counts as present.
  for (const q of s.queued) {
    const ids = [`${q.clientID}#${q.mutationID}`, ...(q.formerIDs ?? [])];
    if (!ids.some((id) => seen.has(id))) continue;
    for (const id of ids) {
      const at = id.lastIndexOf('#');
      const list = byClient.get(id.slice(0, at));
      if (list) list.push(Number(id.slice(at + 1)));
    }
  }
  for (const [clientID, ids] of byClient) {
    const sorted = [...new Set(ids)].sort((a, b) => a - b);
    const gap = sorted.findIndex((id, i) => id !== i + 1);
    if (gap >= 0) out.push({ checker: 'exactly-once', clientID, t: s.t, message: `${clientID}'s mutation ids in the log are not contiguous from 1: expected ${gap + 1}, found ${sorted[gap]}` });
  }
  return out.slice(0, 20);
};
