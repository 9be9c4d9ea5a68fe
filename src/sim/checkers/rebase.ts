import { rebaseCheck } from '../../engine/simulation.ts';
import { violation } from '../findings.ts';
import type { CheckerModule } from './types.ts';
import { firstDifference, show } from './util.ts';

/** What a client shows is its snapshot with its pending mutations replayed in order. */
export const rebase: CheckerModule = {
  name: 'rebase',
  async observe(o) {
    if (!o.sample()) return [];
    const { expected, visible } = await rebaseCheck(o.store);
    const key = firstDifference(expected, visible);
    if (key === undefined) return [];
    return [violation('rebase', `${o.lane} (${o.clientID}) shows ${show(visible.get(key) ?? null)} for ${key}, but its snapshot with its pending mutations replayed gives ${show(expected.get(key) ?? null)}`, { lane: o.lane, clientID: o.clientID, key, t: o.t })];
  },
};
