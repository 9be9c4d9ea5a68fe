import type { Checker, Violation } from './types.ts';

/** The server applied each client's mutations in mutation id order. */
export const perClientOrder: Checker = (s) => {
  const last = new Map<string, { id: number; version: number }>();
  const out: Violation[] = [];
  for (const e of [...s.server.log].sort((a, b) => a.version - b.version)) {
    const prev = last.get(e.clientID);
    if (prev && e.mutationID <= prev.id) {
      out.push({ checker: 'per-client-order', clientID: e.clientID, version: e.version, t: s.t, message: `${e.clientID}'s mutation ${e.mutationID} was applied at version ${e.version}, after its mutation ${prev.id} at version ${prev.version}` });
    }
    last.set(e.clientID, { id: e.mutationID, version: e.version });
  }
  return out.slice(0, 20);
};
