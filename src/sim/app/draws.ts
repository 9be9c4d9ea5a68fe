import type { WorkloadRandom } from './types.ts';

const RANGE = 2 ** 31;

/**
 * A workload's random source read from fast-check's integers in order (0 once they run out). A
 * shrunk integer is a simpler choice: 0 is the first item, the low end of a range, `bool` true.
 */
export function drawsRandom(draws: readonly number[]): WorkloadRandom {
  let i = 0;
  const next = () => Math.min(draws[i++] ?? 0, RANGE - 1) / RANGE;
  const r: WorkloadRandom = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (items) => {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[Math.floor(next() * items.length)]!;
    },
    bool: (p = 0.5) => next() < p,
    weighted(choices) {
      const total = choices.reduce((s, [w]) => s + Math.max(0, w), 0);
      if (total <= 0) throw new Error('weighted: no positive weight');
      let x = next() * total;
      for (const [w, f] of choices) {
        if (w <= 0) continue;
        x -= w;
        if (x < 0) return f();
      }
      return choices.filter(([w]) => w > 0).at(-1)![1]();
    },
  };
  return r;
}
