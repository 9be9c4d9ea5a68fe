import type { EntityData } from '../../protocol/index.ts';

/** The first key where two states differ, or undefined when equal. Values compare as JSON (jsonb normalises key order). */
export function firstDifference(a: Map<string, EntityData>, b: Map<string, EntityData>): string | undefined {
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys.find((k) => JSON.stringify(a.get(k) ?? null) !== JSON.stringify(b.get(k) ?? null));
}

export const show = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));
