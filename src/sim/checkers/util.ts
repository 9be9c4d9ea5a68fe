import type { EntityData } from '../../protocol/index.ts';

import { canonical } from './model-mutators.ts';

/** The first key where two states differ, or undefined when equal. Values compare as JSON with sorted keys (jsonb normalises key order, JS objects keep insertion order). */
export function firstDifference(a: Map<string, EntityData>, b: Map<string, EntityData>): string | undefined {
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys.find((k) => canonical(a.get(k) ?? null) !== canonical(b.get(k) ?? null));
}

export { canonical };

export const show = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));
