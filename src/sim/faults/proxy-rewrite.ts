import { defaultLimits } from '../../protocol/index.ts';

/*
 * A proxy (or a server of another version) that rewrites a pull answer on its way: it adds to the
 * page a delete of a real key followed by one op the protocol does not allow. JSON.parse gives the
 * client all of these (1e999 is Infinity, "\u0000" a NUL, "\ud800" a lone surrogate, "__proto__"
 * an own key), and jsonb refuses them, so the engine must refuse the whole page: applying the
 * delete (or anything) from it is a divergence the convergence checker sees. The next pull is a new
 * message with its own fate, so the client catches up once the proxy lets one through.
 */

export const rewriteKinds = [
  'infinite-number',
  'nul-in-string',
  'lone-surrogate-key',
  'nul-in-key',
  'forbidden-key',
  'too-deep',
  'unknown-op',
  'empty-key',
  'array-value',
  'not-an-op',
  'bad-cookie',
] as const;
export type RewriteKind = (typeof rewriteKinds)[number];

/** A JSON value the text cannot hold as JSON.stringify writes it: replaced in the text after. */
const INFINITY = '\u0001lockstep-infinity\u0001';

/** The op the proxy adds after its delete, per kind (undefined: the kind changes something else). */
function badOp(kind: RewriteKind, key: string): unknown {
  switch (kind) {
    case 'infinite-number':
      return { op: 'put', key, value: { n: INFINITY } };
    case 'nul-in-string':
      return { op: 'put', key, value: { body: 'a\u0000b' } };
    case 'lone-surrogate-key':
      return { op: 'put', key, value: { ['\ud800']: 1 } };
    case 'nul-in-key':
      return { op: 'put', key, value: { ['a\u0000b']: 1 } };
    case 'forbidden-key':
      // An own "__proto__" key, as JSON.parse makes one (an object literal would set the prototype).
      return { op: 'put', key, value: JSON.parse('{"nested":{"__proto__":{"polluted":true}}}') };
    case 'too-deep': {
      let value: unknown = 1;
      for (let i = 0; i < defaultLimits.maxDepth + 1; i++) value = { d: value };
      return { op: 'put', key, value };
    }
    case 'unknown-op':
      return { op: 'merge', key, value: { body: 'x' } };
    case 'empty-key':
      return { op: 'put', key: '', value: { body: 'x' } };
    case 'array-value':
      return { op: 'put', key, value: [1, 2] };
    case 'not-an-op':
      return 7;
    case 'bad-cookie':
      return undefined;
  }
}

/**
 * The answer as the client receives it, or the text unchanged when it is not a pull page (an
 * error body, something cut off). The forged ops name a key of the page, or one a run always has.
 */
export function rewritePullAnswer(text: string, kind: RewriteKind): string {
  let page: { patch?: unknown; cookie?: unknown };
  try {
    page = JSON.parse(text) as typeof page;
  } catch {
    return text;
  }
  if (typeof page !== 'object' || page === null || !Array.isArray(page.patch)) return text;
  const first = page.patch.find((op): op is { key: string } => typeof op === 'object' && op !== null && typeof (op as { key?: unknown }).key === 'string');
  const key = first?.key ?? 'comment/c0';
  const op = badOp(kind, key);
  const rewritten = kind === 'bad-cookie' ? { ...page, patch: [{ op: 'del', key }, ...page.patch], cookie: 'rewritten-by-proxy' } : { ...page, patch: [...page.patch, { op: 'del', key }, op] };
  return JSON.stringify(rewritten).replaceAll(JSON.stringify(INFINITY), '1e999');
}
