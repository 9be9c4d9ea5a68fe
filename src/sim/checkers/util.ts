import type { EntityData } from '../../protocol/index.ts';

import { canonical } from './model-mutators.ts';

/** The first key where two states differ, or undefined when equal. Values compare as JSON with sorted keys (jsonb normalises key order, JS objects keep insertion order). */
export function firstDifference(a: Map<string, EntityData>, b: Map<string, EntityData>): string | undefined {
  // Equal states (nearly every observation): one pass, without the sorted union of keys.
  if (a.size === b.size && sameEntries(a, b)) return undefined;
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys.find((k) => canonical(a.get(k) ?? null) !== canonical(b.get(k) ?? null));
}

export { canonical };

export const show = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));

/** Same keys (b has every key of a, and as many) and values equal as canonical JSON. */
function sameEntries(a: Map<string, EntityData>, b: Map<string, EntityData>): boolean {
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w === undefined || (v !== w && canonical(v) !== canonical(w))) return false;
  }
  return true;
}
