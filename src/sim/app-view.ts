import { watchQuery, type PersistentSyncEngine } from '../engine/index.ts';
import type { EntityRow, QuerySpec } from '../engine/client-database.ts';
import { Crash } from './scheduler.ts';
import { ProtocolError, TransportError } from '../protocol/index.ts';
import { excuseStaleRefusal } from './faults/proxy-rewrite.ts';
import { violation } from './findings.ts';
import type { Violation } from './checkers/types.ts';
import type { SimClient, World } from './world-types.ts';

/**
 * What the app's screen reads, as the demo's components do with useLiveQuery and useSyncState:
 * live queries (the production watchQuery) re-run after the entities of their type change, the
 * sync state after each change, and the error and reset notices. Each re-run is a task of the
 * client's lane (a crash ends it); a result that breaks its own query (a row of another type, one not matching `where`,
 * out of order, over the limit) is a violation of the `live-query` invariant.
 */
export const views: QuerySpec[] = [
  { type: 'review', orderBy: { field: 'votes', direction: 'desc' }, limit: 2 },
  { type: 'comment', where: { pinned: true }, orderBy: { field: 'edited' } },
  { type: 'tally', id: 't0' },
];

/** With wide.appScreens: a list of the latest edits across every type (a query without a type). */
export const screenViews: QuerySpec[] = [{ orderBy: { field: 'edited', direction: 'desc' }, limit: 3 }];

/** Each client's mounted screen: how to unmount it (wide.appLifecycle), when the next engine's mounts. */
const mounted = new WeakMap<SimClient, () => void>();

export function mountViews(world: World & { reportViolation(v: Violation): void }, c: SimClient, engine: PersistentSyncEngine): void {
  const { sched } = world;
  const reads = world.config.wide?.appReads === true;
  const screens = world.config.wide?.appScreens === true;
  const shown = screens ? [...views, ...screenViews] : views;
  // The entity the detail screen shows: the one last changed (a local write or a pull).
  let detail: { type: string; id: string } | undefined;
  const stops: (() => void)[] = [];
  if (world.config.wide?.appLifecycle) {
    mounted.get(c)?.();
    mounted.set(c, () => unmount(world, c, engine, stops));
  }
  // Each view is a production live query (watchQuery, what useLiveQuery runs), its runs tasks of
  // the client's lane; an answer that breaks its own query is a violation, an error a finding.
  for (const spec of shown) {
    stops.push(watchQuery(engine, spec, (state) => {
      if (state.status === 'error') {
        // A crashed or closed engine (replaced by a wipe or a group move) no longer renders.
        if (state.error instanceof Crash || c.engine !== engine) return;
        throw state.error;
      }
      const broken = check(spec, state.rows);
      if (broken) world.reportViolation(violation('live-query', `${c.name}: query ${JSON.stringify(spec)} ${broken}`, { lane: c.name, clientID: engine.clientID, t: sched.now }));
    }, { schedule: (run) => sched.spawn(c.name, 'view', run) }));
  }
  // wide.appLifecycle: a pager whose page size came out negative (an app's arithmetic): the
  // engine must answer its live query with a clear error, never rows.
  if (world.config.wide?.appLifecycle) {
    const spec: QuerySpec = { type: 'comment', limit: -1 };
    stops.push(watchQuery(engine, spec, (state) => {
      if (state.status === 'error' && state.error.message === 'limit must be a non-negative integer, got -1') return;
      // A crash (or a replaced engine) during the run ends it before the limit is checked: the
      // deferred mode's flush first waits for a flush in progress, and that wait now fails with
      // the crash (swarm seeds 153, 154).
      if (state.status === 'error' && (state.error instanceof Crash || c.engine !== engine)) return;
      world.reportViolation(violation('live-query', `${c.name}: query ${JSON.stringify(spec)} gave ${state.status === 'error' ? `"${state.error.message}"` : `${state.rows.length} rows`}, not its clear error`, { lane: c.name, t: sched.now }));
    }, { schedule: (run) => sched.spawn(c.name, 'view', run) }));
  }
  // wide.appLifecycle: the screen's "sync now" (a pull to refresh) calls engine.sync() itself, beside the loop's runs.
  const syncNow = world.config.wide?.appLifecycle ? c.rng.fork(`sync-now-${c.incarnation}-${c.generation}`) : undefined;
  let scheduled = false;
  const rerun = () => {
    if (scheduled) return;
    scheduled = true;
    sched.spawn(c.name, 'view', async () => {
      scheduled = false;
      try {
        if (reads) await readLikeAnApp(world, c, engine);
        if (detail) await showDetail(world, c, engine, detail);
        const state = await engine.getState();
        if (state.lastSyncedVersion !== state.cookie || !(Number.isInteger(state.pendingCount) && state.pendingCount >= 0)) {
          world.reportViolation(violation('live-query', `${c.name}: sync state inconsistent: ${JSON.stringify(state)}`, { lane: c.name, t: sched.now }));
        }
        if (syncNow?.chance(0.3)) await syncNowPressed(world, c, engine);
      } catch (e) {
        // A closed engine (replaced by a wipe or a group move) no longer renders.
        if (e instanceof Crash || c.engine !== engine) return;
        throw e;
      }
    });
  };
  engine.onEntityChange((change) => {
    if (screens) detail = { type: change.type, id: change.id };
    rerun();
  });
  // With wide.appReads, the sync state also renders from onStateChange (as a status bar
  // subscribed to it would), unsubscribing once the engine is replaced.
  if (reads) {
    const off = engine.onStateChange((state) => {
      if (c.engine !== engine) return off();
      world.countFault('state-change-shown');
      if (!(Number.isInteger(state.pendingCount) && state.pendingCount >= 0)) world.reportViolation(violation('live-query', `${c.name}: onStateChange gave ${JSON.stringify(state)}`, { lane: c.name, t: sched.now }));
    });
  }
  engine.onMutationError(() => world.countFault('mutation-error-shown'));
  engine.onReset(() => world.countFault('reset-shown'));
  rerun();
}

/**
 * The app's "sync now": engine.sync() called directly (public API), so it may run beside the sync
 * loop's own run: two pushes, two pulls and their rebases at once. A failed request is the app's
 * to show (as the loop's are); any other error is a finding.
 */
async function syncNowPressed(world: World, c: SimClient, engine: PersistentSyncEngine): Promise<void> {
  if (engine.isClosed) return;
  world.countFault('app-sync-now');
  try {
    await engine.sync();
  } catch (e) {
    // Closed meanwhile (a reload): the screen is going away with it.
    if (e instanceof TransportError || e instanceof ProtocolError || engine.isClosed) return;
    // A stale page the simulated caching proxy gave it, refused (faults/proxy-rewrite.ts).
    if (e instanceof Error && excuseStaleRefusal(world, c, e)) return;
    throw e;
  }
}

/**
 * wide.appLifecycle: the screen of an engine that was replaced (a reload, a wipe, a group move)
 * unmounts: its live queries stop (a run in flight tells nobody). A closed engine is then closed
 * again, as an app whose unmount and unload handlers both close it does (a no-op), and a late
 * write from a stale handler must be refused with 'engine is closed', writing nothing. A crashed
 * engine is left alone (its process is gone: nothing of it runs any more).
 */
function unmount(world: World & { reportViolation(v: Violation): void }, c: SimClient, engine: PersistentSyncEngine, stops: (() => void)[]): void {
  for (const stop of stops) stop();
  if (!engine.isClosed) return;
  world.countFault('app-closed-twice');
  // Both settle at once, without a statement: close() returns early, and the write throws before it starts.
  void engine.close();
  engine.upsert('comment', 'c0', { body: 'late' }).then(
    () => world.reportViolation(violation('app-lifecycle', `${c.name}: a write to a closed engine was accepted`, { lane: c.name, t: world.sched.now })),
    (e: Error) => {
      if (e.message !== 'engine is closed') world.reportViolation(violation('app-lifecycle', `${c.name}: a write to a closed engine failed with "${e.message}"`, { lane: c.name, t: world.sched.now }));
    },
  );
}

/**
 * A detail view reads one document with engine.get. Tallies are only ever incremented, so a tally
 * shown is absent or holds a number (comparing with a query would race: each read is its own
 * statement, and a pull may land between them).
 */
async function readLikeAnApp(world: World & { reportViolation(v: Violation): void }, c: SimClient, engine: PersistentSyncEngine): Promise<void> {
  const doc = await engine.get('tally', 't0');
  if (doc !== undefined && typeof doc.n !== 'number') {
    world.reportViolation(violation('live-query', `${c.name}: engine.get(tally, t0) gave ${JSON.stringify(doc)}`, { lane: c.name, t: world.sched.now }));
  }
}

/**
 * The detail screen reads the entity last changed with engine.get (in deferred mode a write not
 * yet stored answers from memory): absent, or a document whose id-less shape is a plain object.
 */
async function showDetail(world: World & { reportViolation(v: Violation): void }, c: SimClient, engine: PersistentSyncEngine, e: { type: string; id: string }): Promise<void> {
  const doc = await engine.get(e.type, e.id);
  if (doc !== undefined && (doc === null || typeof doc !== 'object' || Array.isArray(doc))) {
    world.reportViolation(violation('live-query', `${c.name}: engine.get(${e.type}, ${e.id}) gave ${JSON.stringify(doc)}`, { lane: c.name, t: world.sched.now }));
  }
}

/** Why rows do not answer their query, or undefined. */
export function check(spec: QuerySpec, rows: EntityRow[]): string | undefined {
  if (spec.limit !== undefined && rows.length > spec.limit) return `returned ${rows.length} rows over its limit`;
  for (const r of rows) {
    if (spec.type !== undefined && r.type !== spec.type) return `returned ${r.key} of another type`;
    if (spec.id !== undefined && r.id !== spec.id) return `returned ${r.key}, another id`;
    for (const [k, v] of Object.entries(spec.where ?? {})) if (JSON.stringify(r.data[k]) !== JSON.stringify(v)) return `returned ${r.key} whose ${k} is ${JSON.stringify(r.data[k])}`;
  }
  const field = spec.orderBy?.field;
  if (field) {
    const desc = spec.orderBy!.direction === 'desc';
    for (let i = 1; i < rows.length; i++) {
      const a = rows[i - 1]!.data[field];
      const b = rows[i]!.data[field];
      // Numbers only (string order is the database's collation); missing values sort last.
      if (a === undefined && b !== undefined) return `put ${rows[i - 1]!.key} without ${field} before ${rows[i]!.key}`;
      if (typeof a === 'number' && typeof b === 'number' && (desc ? a < b : a > b)) return `put ${rows[i - 1]!.key} (${a}) before ${rows[i]!.key} (${b})`;
    }
  }
  return undefined;
}
