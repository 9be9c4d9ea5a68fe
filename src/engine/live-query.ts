import type { EntityChange, EntityRow, QuerySpec } from './client-database.ts';

/** What a live query shows: still loading (no answer yet), its rows, or the error of its last run (with the rows it had). */
export type LiveQueryState =
  | { status: 'loading'; rows: EntityRow[]; error?: undefined }
  | { status: 'ready'; rows: EntityRow[]; error?: undefined }
  | { status: 'error'; rows: EntityRow[]; error: Error };

/** The part of an engine a live query needs. */
export interface QuerySource {
  query(spec: QuerySpec): Promise<EntityRow[]>;
  onEntityChange(cb: (change: EntityChange) => void): () => void;
}

export interface WatchOptions {
  /**
   * Runs a re-query (default: at once). The simulator passes its scheduler here so that each run
   * is a task of the client's lane.
   */
  schedule?: (run: () => Promise<void>) => void;
}

export const loadingState: LiveQueryState = Object.freeze({ status: 'loading', rows: [] }) as LiveQueryState;

/**
 * Runs `spec` now and again after entities of its type change, and tells `listener` each answer.
 * At most one run is in flight: changes that arrive meanwhile (a pull applies hundreds) cost one
 * more run, not one each, and an answer never overtakes a later one. The returned function stops it.
 */
export function watchQuery(source: QuerySource, spec: QuerySpec, listener: (state: LiveQueryState) => void, options: WatchOptions = {}): () => void {
  const schedule = options.schedule ?? ((run) => void run());
  let rows: EntityRow[] = [];
  let dirty = true;
  let running = false;
  let stopped = false;
  const drain = async () => {
    try {
      while (dirty && !stopped) {
        dirty = false;
        let next: LiveQueryState;
        try {
          rows = await source.query(spec);
          next = { status: 'ready', rows };
        } catch (e) {
          next = { status: 'error', rows, error: e instanceof Error ? e : new Error(String(e)) };
        }
        if (!stopped) listener(next);
      }
    } finally {
      running = false;
    }
  };
  const kick = () => {
    dirty = true;
    if (running || stopped) return;
    running = true;
    schedule(drain);
  };
  const off = source.onEntityChange((c) => {
    if (!spec.type || c.type === spec.type) kick();
  });
  kick();
  return () => {
    stopped = true;
    off();
  };
}
