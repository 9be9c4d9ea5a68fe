import { defineMutator } from 'lockstep';
import { defineSimulation } from 'lockstep/sim';
import { z } from 'zod';

export const vote = defineMutator(z.object({ poll: z.string() }), async (tx, { poll }) => {
  const cur = (await tx.get('poll', poll)) ?? { votes: 0 };
  // VOTES_BUG=1 plants a bug: "a repeated vote must be a retry" (the engine already drops retries).
  if (process.env.VOTES_BUG && cur.last === tx.clientID) return;
  tx.put('poll', poll, { votes: (cur.votes as number) + 1, last: tx.clientID });
});

export default defineSimulation({
  name: 'votes',
  version: 1,
  mutators: { vote },
  workload: (r) => ({ name: 'vote', args: { poll: r.pick(['p1', 'p2']) } }),
  invariants: {
    'every-vote-counts': {
      final: (s) => s.sum('poll', 'votes') === s.applied('vote') || `${s.applied('vote')} votes cast, ${s.sum('poll', 'votes')} counted`,
    },
  },
});
