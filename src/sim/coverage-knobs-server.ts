import type { WideWorkload } from './wide-workload.ts';

/**
 * Knobs that reach server paths the rest of swarm does not (issue 9, item 9), drawn after every
 * other draw of a seed (config.ts calls this right after drawCoverageKnobs). Each is set only when
 * drawn on, so a seed that draws it off behaves, and hashes, as before.
 * - refusedLabelRate: an app mutator (`label`, refused-label.ts) whose server-side refusal quotes
 *   its input raw; a NUL in it makes PostgreSQL refuse the push's data, so the server's one-by-one
 *   fallback runs (ServerDatabase.pushOneByOne).
 */
export function drawServerCoverageKnobs(next: () => number, wide: WideWorkload): void {
  const label = next();
  if (label < 0.3) wide.refusedLabelRate = +(0.01 + next() * 0.03).toFixed(4);
}

/** The report's words for them (describeMix). */
export function describeServerCoverageKnobs(w: WideWorkload): string[] {
  return w.refusedLabelRate ? [`refused label ${w.refusedLabelRate}`] : [];
}
