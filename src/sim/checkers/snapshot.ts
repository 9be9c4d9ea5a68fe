import { foldLog } from '../../server/server-database.ts';
import { snapshotWithCookie } from '../../engine/simulation.ts';
import { violation } from '../findings.ts';
import type { CheckerModule } from './types.ts';
import { firstDifference, show } from './util.ts';

/**
 * Every pulled state is a state the server really had: the client's snapshot equals the fold of
 * the server's log up to the client's cookie. (A pull that skips a commit breaks this even when
 * later writes would hide it by the end.) Only pulls answered by the server's current database
 * are compared: an epoch names one database's history.
 */
export const snapshot: CheckerModule = {
  name: 'snapshot',
  async observe(o) {
    if (!o.sample()) return [];
    const { cookie, snapshot: snap } = await snapshotWithCookie(o.store);
    if (cookie === null) return [];
    // A pull the lost database answered (it arrived after a storage loss or restore): the current
    // database's log is another history. The client starts over at its next pull.
    if (o.clientEpoch !== (await o.serverEpoch())) return [];
    const fold = foldLog(await o.serverLog(cookie));
    const key = firstDifference(fold, snap);
    if (key === undefined) return [];
    return [violation('snapshot', `${o.lane} (${o.clientID}) holds ${show(snap.get(key) ?? null)} for ${key} at cookie ${cookie}, but the server had ${show(fold.get(key) ?? null)} at version ${cookie}`, { lane: o.lane, clientID: o.clientID, key, version: cookie, t: o.t })];
  },
};
