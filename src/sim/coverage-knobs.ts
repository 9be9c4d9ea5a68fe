import type { WideWorkload } from './wide-workload.ts';
import type { ServerProcessConfig } from './server-process.ts';

/**
 * Knobs that reach production paths the rest of swarm does not (issue 9, item 9), drawn after every
 * other draw of a seed: hostile raw requests at the HTTP boundary, clients that sync through the
 * server-function door, an app screen that reads with engine.get and renders onStateChange, more
 * screens (a list across types, the detail of the entity last changed), and an app's mistakes in
 * documents (a Date, undefined, a BigInt) that the engine must refuse, the engine's pull apply in
 * small statements, and a tight sync rate limit (429 with Retry-After).
 * Each is set only when drawn on, so a seed that draws it off behaves, and hashes, as before.
 */
export function drawCoverageKnobs(next: () => number, wide: WideWorkload, server: ServerProcessConfig): void {
  const boundary = next();
  if (boundary < 0.4) wide.boundaryRate = +(0.002 + next() * 0.013).toFixed(4);
  const door = next();
  if (door < 0.5) wide.doorRate = +(0.25 + next() * 0.75).toFixed(2);
  if (next() < 0.5) wide.appReads = true;
  // Appended later (same rule): more of the app's screens, and its usual mistakes in documents.
  if (next() < 0.5) wide.appScreens = true;
  const mistakes = next();
  if (mistakes < 0.4) wide.mistakeRate = +(0.002 + next() * 0.013).toFixed(4);
  // The engine's pull apply in small statements (a few documents each) in a third of the seeds.
  const chunks = next();
  if (chunks < 1 / 3) wide.applyChunkBytes = Math.floor(200 + next() * 4_000);
  // A tight sync rate limit per token in a quarter of the seeds (1-2 requests/s, bursts of 2-4): a
  // client's runs meet 429 with Retry-After, which its sync loop honours (heal-capacity.ts reads it).
  if (next() < 0.25) server.http = { ...server.http, syncPerSecond: 1 + Math.floor(next() * 2), syncBurst: 2 + Math.floor(next() * 3) };
}

/**
 * The app's own code (issue 9, deliver 3), drawn after every other draw of a seed, the server
 * knobs' included (config.ts calls this last), so a seed that draws them off keeps its mix:
 * - ledgerRate (40% of seeds, 2-8% of ops): the app's ledger mutators, registered on client and
 *   server (custom-mutators.ts, checker checkers/ledger.ts): reads of keys the args do not name, a
 *   read of a key the mutation wrote, refusals thrown as strings, several keys written, a delete
 *   read back, a swallowed failed read; and a gauge incremented by +-1e308 (an overflow to refuse).
 * - appLifecycle (30%): the app's lifecycle as careless apps run it: the sync loop started twice
 *   (a double-mounted effect), and once an engine is replaced, its screen unmounted (live queries
 *   stopped), the closed engine closed again and a late write refused ('engine is closed').
 * - maxUnflushedWrites (half the deferred-mode seeds, 1-4): a write waits for a flush.
 */
export function drawAppCoverageKnobs(next: () => number, wide: WideWorkload): void {
  const ledger = next();
  if (ledger < 0.4) wide.ledgerRate = +(0.02 + next() * 0.06).toFixed(4);
  if (next() < 0.3) wide.appLifecycle = true;
  if (wide.flushIntervalMs !== undefined && next() < 0.5) wide.maxUnflushedWrites = 1 + Math.floor(next() * 4);
}

/** The report's words for them (describeMix). */
export function describeCoverageKnobs(w: WideWorkload): string[] {
  const parts: string[] = [];
  if (w.boundaryRate) parts.push(`boundary ${w.boundaryRate}`);
  if (w.doorRate) parts.push(`server-fn door ${w.doorRate}`);
  if (w.appReads) parts.push('app reads');
  if (w.appScreens) parts.push('app screens');
  if (w.mistakeRate) parts.push(`app mistakes ${w.mistakeRate}`);
  if (w.applyChunkBytes) parts.push(`apply chunks ${w.applyChunkBytes} B`);
  if (w.ledgerRate) parts.push(`ledger ${w.ledgerRate}`);
  if (w.appLifecycle) parts.push('app lifecycle');
  if (w.maxUnflushedWrites) parts.push(`at most ${w.maxUnflushedWrites} unflushed writes`);
  return parts;
}

/** The engine options drawAppCoverageKnobs sets (spread into PersistentSyncEngine.open after engineKnobs). */
export function appEngineKnobs(w: WideWorkload | undefined): { maxUnflushedWrites?: number } {
  return w?.maxUnflushedWrites !== undefined ? { maxUnflushedWrites: w.maxUnflushedWrites } : {};
}
