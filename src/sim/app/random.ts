import type { Rng } from '../rng.ts';
import type { WorkloadRandom } from './types.ts';

/** The workload's view of the schedule stream: every draw is a draw of the seed's schedule. */
export function workloadRandom(rng: Rng): WorkloadRandom {
  return {
    next: () => rng.next(),
    int: (lo, hi) => rng.int(lo, hi),
    pick: (items) => rng.pick(items),
    bool: (p = 0.5) => rng.chance(p),
    weighted(choices) {
      const total = choices.reduce((s, [w]) => s + Math.max(0, w), 0);
      if (total <= 0) throw new Error('weighted: no positive weight');
      let r = rng.next() * total;
      for (const [w, f] of choices) {
        if (w <= 0) continue;
        r -= w;
        if (r < 0) return f();
      }
      return choices.filter(([w]) => w > 0).at(-1)![1]();
    },
  };
}
