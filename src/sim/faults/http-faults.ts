import type { NetworkConfig } from '../config.ts';
import type { Rng } from '../rng.ts';
import { rewriteKinds, type RewriteKind } from './proxy-rewrite.ts';

/*
 * HTTP-level message faults: what a proxy or an overloaded server does to one request. Like the
 * network faults, each message draws its fate from its own stream, after the network's draws (so
 * adding these did not change any message's network fate).
 */

/** A 5xx the request gets from something between client and server: before the server saw it, or after it processed it. */
export type InjectedError = 'before' | 'after';

export interface HttpFate {
  error?: InjectedError;
  /** The response body is cut off after this fraction of its bytes (the client must see a TransportError). */
  truncateAt?: number;
  /** The response is held this long after the server answered: past the client's timeout. */
  slowMs?: number;
  /** A 200 pull answer is rewritten on its way (proxy-rewrite.ts): the client must refuse the page. */
  rewrite?: RewriteKind;
}

/** The rates (config.network) are optional: configs and replay files from before these faults mean 0. */
export function httpFate(rng: Rng, net: NetworkConfig): HttpFate {
  const error = rng.chance(net.serverErrorRate ?? 0);
  const before = rng.chance(0.5);
  const truncate = rng.chance(net.truncateRate ?? 0);
  const cut = rng.next();
  const slow = rng.chance(net.slowResponseRate ?? 0);
  const extra = rng.int(1, 2_000);
  // Drawn after the others (a message's stream is its own, so this changed no other draw).
  const rewrite = rng.chance(net.rewriteRate ?? 0) ? rewriteKinds[rng.int(0, rewriteKinds.length - 1)] : undefined;
  return {
    ...(error ? { error: before ? 'before' : 'after' } : {}),
    ...(truncate ? { truncateAt: cut } : {}),
    ...(slow ? { slowMs: net.timeoutMs + extra } : {}),
    ...(rewrite ? { rewrite } : {}),
  };
}

/** The 5xx a proxy answers: not JSON, as a real gateway page is not. */
export const injectedErrorAnswer = { status: 502, text: '<html><body>502 Bad Gateway</body></html>' };

/** Cuts a response body off after a fraction of it (at least one byte short). */
export function truncate(text: string, at: number): string {
  return text.slice(0, Math.min(text.length - 1, Math.floor(text.length * at)));
}

/** The HTTP faults' knobs and report entries (listed with the network's message faults). */
export const httpMessageFaults = [
  { rate: 'serverErrorRate', traceKinds: ['injected-5xx'], colour: '#d00000', legend: 'injected 5xx' },
  { rate: 'truncateRate', traceKinds: ['truncated'], colour: '#d00000', legend: 'response cut off' },
  { rate: 'slowResponseRate', traceKinds: ['slow-response'], colour: '#d00000', legend: 'slow response' },
  { rate: 'rewriteRate', traceKinds: ['rewritten'], colour: '#d00000', legend: 'pull answer rewritten' },
] as const;
