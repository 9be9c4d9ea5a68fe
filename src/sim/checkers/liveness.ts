import type { Checker } from './types.ts';

/**
 * With faults healed, every client's own sync loop drains its queue and catches up within the
 * bound. A failure names each client behind and what its loop was waiting on.
 */
export const liveness: Checker = (s) => {
  if (s.healed) return [];
  const stuck = s.clients.filter((c) => c.pending.length > 0 || c.cookie !== s.server.version);
  const detail = stuck
    .slice(0, 3)
    .map((c) => {
      const loop = c.loop ? `; loop: ${c.loop.waiting}, ${c.loop.failures} failed runs in a row, last error ${c.loop.lastError === null ? 'none' : JSON.stringify(c.loop.lastError)}` : '';
      return `${c.lane}: ${c.pending.length} pending, cookie ${c.cookie} vs server ${s.server.version}${loop}`;
    })
    .join(' | ');
  return [{
    checker: 'liveness', t: s.t, lane: stuck[0]?.lane, clientID: stuck[0]?.clientID, version: s.server.version,
    message: `not quiescent ${s.healMs} ms after heal (bound ${s.healBudgetMs} ms): ${stuck.length} clients behind at server version ${s.server.version}${detail ? ` (${detail})` : ''}${s.healError ? `; ${s.healError}` : ''}`,
  }];
};
