import { violation } from '../findings.ts';
import type { CheckerModule } from './types.ts';

/**
 * A client never reuses a mutation id: the (clientID, mutationID) pairs its engines queue are
 * unique across crashes and restarts (a reused id would be skipped by the server as a duplicate,
 * silently losing the second write).
 */
export const uniqueMutationIds: CheckerModule = {
  name: 'unique-mutation-ids',
  final(s) {
    const seen = new Map<string, (typeof s.queued)[number]>();
    const out = [];
    for (const q of s.queued) {
      const key = `${q.clientID}#${q.mutationID}`;
      const first = seen.get(key);
      if (first) {
        out.push(violation('unique-mutation-ids', `${q.lane} (${q.clientID}) queued mutation id ${q.mutationID} twice: ${first.name} at ${first.t} ms and ${q.name} at ${q.t} ms`, { lane: q.lane, clientID: q.clientID, t: q.t }));
      } else seen.set(key, q);
    }
    return out.slice(0, 5);
  },
};
