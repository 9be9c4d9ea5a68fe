import { defaultLimits } from '../../protocol/index.ts';
import type { SimClient, World } from '../world-types.ts';

/*
 * A proxy (or a server of another version) that rewrites a pull answer on its way: it adds to the
 * page a delete of a real key followed by one op the protocol does not allow. JSON.parse gives the
 * client all of these (1e999 is Infinity, "\u0000" a NUL, "\ud800" a lone surrogate, "__proto__"
 * an own key), and jsonb refuses them, so the engine must refuse the whole page: applying the
 * delete (or anything) from it is a divergence the convergence checker sees. The next pull is a new
 * message with its own fate, so the client catches up once the proxy lets one through.
 *
 * `stale-page` is a caching proxy instead: it answers with the page this client was given before
 * (well formed, but from an older cookie, maybe another database or an older acknowledgement).
 * The engine must apply it only where it changes nothing, and refuse it where it would take the
 * client back: `staleRefusal` tells such a refusal from an engine that goes back by itself.
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
  'stale-page',
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
    case 'stale-page':
      return undefined;
  }
}

/**
 * The answer as the client receives it, or the text unchanged when it is not a pull page (an
 * error body, something cut off). The forged ops name a key of the page, or one a run always has.
 */
export function rewritePullAnswer(text: string, kind: RewriteKind, earlier?: string): string {
  if (kind === 'stale-page') return earlier ?? text;
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

/** The engine's refusals of a page that would take it back (client-database.ts applyPull). */
const goesBack = /^server (cookie went back|answered from database|last mutation id for \S+ went back)/;

/** How many of a client's latest distinct pages the simulated caching proxy keeps; it answers with the oldest. */
const keptPages = 3;

/** The proxy's copies of a client slot's latest distinct pages, and how many stale pages it gave that slot. */
interface StalePages {
  pages: string[];
  given: number;
}
const stale = new WeakMap<SimClient, StalePages>();

export function staleOf(c: SimClient): StalePages {
  let s = stale.get(c);
  if (!s) stale.set(c, (s = { pages: [], given: 0 }));
  return s;
}

/** Keeps a page the client was given (the network calls this only where the fault can happen). */
export function keepPage(s: StalePages, page: string): void {
  if (s.pages.at(-1) === page) return;
  s.pages.push(page);
  if (s.pages.length > keptPages) s.pages.shift();
}

/**
 * Whether an error is the engine refusing a stale page this client was given (counted by the
 * network): each stale page excuses one such refusal, so an engine that goes back by itself is
 * still a finding (a stale page applied where it changed nothing, or asked ahead and never used,
 * leaves one excuse unused: a later refusal of that client is excused too, by one).
 */
export function staleRefusal(stale: Pick<StalePages, 'given'>, e: Error): boolean {
  if (stale.given === 0 || !goesBack.test(e.message)) return false;
  stale.given--;
  return true;
}

/** staleRefusal for a client's sync error, counted and traced when it excuses one (the loop's handler and the app's "sync now" both ask). */
export function excuseStaleRefusal(world: World, c: SimClient, e: Error): boolean {
  if (!staleRefusal(staleOf(c), e)) return false;
  world.countFault('stale-refused');
  world.sched.record(c.name, 'stale-refused', e.message);
  return true;
}
