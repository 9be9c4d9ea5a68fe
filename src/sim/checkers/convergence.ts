import { foldLog } from '../../server/server-database.ts';
import type { Checker, Violation } from './types.ts';
import { firstDifference, show } from './util.ts';

/**
 * After heal: server entities == a fold of the replication log from the compacted base (empty
 * when never compacted) == every live client's visible state.
 */
export const convergence: Checker = (s) => {
  const out: Violation[] = [];
  const horizon = s.server.horizon ?? 0;
  const fold = foldLog(s.server.log.filter((e) => e.version > horizon), s.server.base);
  const k = firstDifference(s.server.entities, fold);
  if (k !== undefined) {
    out.push({ checker: 'convergence', key: k, t: s.t, lane: 'server', message: `server entity ${k} is ${show(s.server.entities.get(k))} but the replication log folds to ${show(fold.get(k))}` });
  }
  for (const c of s.clients) {
    const d = firstDifference(c.visible, s.server.entities);
    if (d !== undefined) {
      out.push({
        checker: 'convergence', key: d, lane: c.lane, clientID: c.clientID, t: s.t, version: s.server.version,
        message: `${c.lane} (${c.clientID}) shows ${show(c.visible.get(d))} for ${d} at cookie ${c.cookie}, the server has ${show(s.server.entities.get(d))} at version ${s.server.version}`,
      });
    }
  }
  // A thousand clients behind the same missed write say one thing: keep the first few and a count.
  if (out.length > 20) return [...out.slice(0, 20), { checker: 'convergence', t: s.t, message: `… and ${out.length - 20} more differing clients` }];
  return out;
};
