/**
 * Limits shared by client and server, and the one JSON checker both sides run on every value
 * that crosses the boundary. The checker walks iteratively (a 3,000-deep document must not
 * overflow the stack) and refuses what PostgreSQL's jsonb or a JS object would mangle.
 */
export interface Limits {
  /** Largest encoded JSON of one entity's data (a document). */
  maxDocumentBytes: number;
  /** Largest encoded JSON of one mutation's args. */
  maxArgsBytes: number;
  /** Deepest nesting of arrays and objects in one value. */
  maxDepth: number;
}

export const defaultLimits: Limits = {
  maxDocumentBytes: 256 * 1024,
  maxArgsBytes: 300 * 1024,
  maxDepth: 64,
};

/** Keys that a JS object turns into prototype changes or that frameworks treat specially. */
export const forbiddenKeys: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

const encoder = new TextEncoder();

/** UTF-8 bytes of the value's JSON encoding (what goes over the wire and into jsonb). */
export function encodedBytes(value: unknown): number {
  return encoder.encode(JSON.stringify(value) ?? 'null').length;
}

function stringProblem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'must not contain NUL bytes';
  // A lone UTF-16 surrogate (an emoji cut in half) passes JSON but PostgreSQL's jsonb refuses it.
  if (!s.isWellFormed()) return 'must be well-formed Unicode (a lone surrogate was found)';
  return undefined;
}

/**
 * The first problem that makes `value` unfit to store as JSON, with its path, or undefined.
 * Checks: plain JSON types only, finite numbers, well-formed strings without NUL bytes, no
 * forbidden keys, depth <= maxDepth. Byte size is checked separately (encodedBytes), once.
 */
export function jsonProblem(value: unknown, maxDepth: number = defaultLimits.maxDepth): string | undefined {
  const stack: { v: unknown; path: string; depth: number }[] = [{ v: value, path: '', depth: 0 }];
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop()!;
    const at = path || '(root)';
    if (v === null || typeof v === 'boolean') continue;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return `${at}: must be a finite number`;
      continue;
    }
    if (typeof v === 'string') {
      const p = stringProblem(v);
      if (p) return `${at}: ${p}`;
      continue;
    }
    if (typeof v !== 'object') return `${at}: ${typeof v} is not JSON`;
    if (depth >= maxDepth) return `${at}: nested deeper than ${maxDepth} levels`;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: `${path}[${i}]`, depth: depth + 1 });
      continue;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return `${at}: only plain objects are JSON`;
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i]!;
      if (forbiddenKeys.has(k)) return `${path ? `${path}.` : ''}${k}: the key "${k}" is not allowed`;
      const kp = stringProblem(k);
      if (kp) return `${path ? `${path}.` : ''}${JSON.stringify(k)}: key ${kp}`;
      stack.push({ v: (v as Record<string, unknown>)[k], path: path ? `${path}.${k}` : k, depth: depth + 1 });
    }
  }
  return undefined;
}

/** jsonProblem plus a byte cap: what a client checks before queueing and a server before applying. */
export function valueProblem(value: unknown, maxBytes: number, maxDepth: number = defaultLimits.maxDepth): string | undefined {
  const p = jsonProblem(value, maxDepth);
  if (p) return p;
  const bytes = encodedBytes(value);
  if (bytes > maxBytes) return `${bytes} bytes encoded, over the limit of ${maxBytes}`;
  return undefined;
}
