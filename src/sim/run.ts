import { MutationRejectedError } from '../engine/client-database.ts';
import type { SimConfig } from './config.ts';
import { findBug, type BugVariant } from './bugs/index.ts';
import { checkerModules, checkers, type ClientFinal, type FinalState, type LoopFinal, type Violation } from './checkers/index.ts';
import { syncLoopState } from '../engine/simulation.ts';
import { faultModuleFor, faultModules } from './faults/index.ts';
import { messageFaults } from './faults/network-faults.ts';
import { Rng } from './rng.ts';
import { generateSchedule, type ScheduleEvent } from './schedule.ts';
import type { Future, TraceEvent } from './scheduler.ts';
import { SimWorld, type Stores } from './world.ts';
import { exceptionViolation } from './findings.ts';
import { holdsGroupToken } from './network.ts';
import { isMoving } from './identity.ts';
import type { SimClient } from './world-types.ts';
import type { Simulation } from './app/types.ts';
import { resolveSimulation } from './app/load.ts';
import { appWorkload } from './app/workload.ts';
import { simulationCheckers } from './app/checkers.ts';
import { workloadEvent } from './schedule.ts';
import { isWideOp, runWideOp } from './wide-ops.ts';
import { healCapacity, maxExtensionBounds } from './heal-capacity.ts';
import { apiState } from './sim-api.ts';
import { defaultStallMs, guardStall, isSeedTimeout, plantHang, SeedStall, seedTimeoutViolation, testHang } from './run-guard.ts';

export interface RunStats {
  events: number;
  traceEvents: number;
  mutations: number;
  pushes: number;
  pulls: number;
  statements: number;
  faults: Record<string, number>;
  serverErrors: number;
  checks: Record<string, number>;
  virtualMs: number;
  wallMs: number;
}

export interface RunResult {
  seed: string;
  verdict: 'converged' | 'violation';
  violations: Violation[];
  traceHash: string;
  stats: RunStats;
  schedule: ScheduleEvent[];
  trace: TraceEvent[];
  config: SimConfig;
  /** The run stalled (no scheduler step for the stall bound): a wall-clock finding, not shrunk. */
  stalled?: boolean;
}

export { hashTrace } from './trace.ts';

let runCounter = 0;

/**
 * One seeded run: build the world, play the schedule (chaos), heal, check. With `schedule`, that
 * explicit schedule is played instead of one generated from the seed (replay and shrinking).
 */
export async function runSimulation(config: SimConfig, stores: Stores, options: { schedule?: ScheduleEvent[]; bug?: BugVariant; simulation?: Simulation; stallMs?: number } = {}): Promise<RunResult> {
  const wall0 = performance.now();
  // An app simulation: the one given, else the one the config names (loaded by path, so workers and replays find it).
  const app = options.simulation ?? (config.simulation ? await resolveSimulation(config.simulation) : undefined);
  const rng = new Rng(config.seed);
  // `options.bug` lets a test plant a variant that is not in the zoo (config.bug still names it).
  const bug = options.bug ?? (config.bug ? findBug(config.bug) : undefined);
  const schedule = options.schedule ?? generateSchedule(rng.fork('schedule'), config, app ? appWorkload(app, workloadEvent) : undefined);
  // Schema names differ per run in a process, but never reach the trace: the trace hash stays a function of the seed.
  const prefix = `sim${process.pid}_${++runCounter}`;
  const world = await SimWorld.create(config, rng.fork('world'), stores, bug, prefix, app);
  const modules = app ? simulationCheckers(app) : checkerModules;
  const { sched } = world;
  sched.schemaPrefix = prefix;
  const stallMs = options.stallMs ?? defaultStallMs;
  let stalled = false;

  // An exception out of production code is a finding of this seed, not the end of the sweep.
  let runError: unknown = world.setupError;
  let healed = false;
  let healMs = 0;
  let healBoundMs = config.healBudgetMs;
  let loops = new Map<string, LoopFinal>();
  if (runError === undefined) {
    // Every client runs its engine's own sync loop from time 0: on local writes, server pokes,
    // schedule `sync` events (pokes too) and its interval, backing off after errors.
    world.startLoops();
    // Chaos: one driver task releases each scheduled event at its time; once the tasks those
    // events started are done, it starts the heal.
    const events = tracker(sched);
    sched.spawn('sim', 'driver', async () => {
      for (const e of schedule) {
        if (e.t > sched.now) await sched.sleep(e.t - sched.now);
        startEvent(world, e, events);
      }
      await events.idle(config.healBudgetMs);
      sched.spawn('sim', 'heal', async () => {
        ({ healed, healMs, healBoundMs, loops } = await heal(world));
      });
    });
    const hang = testHang(config.seed);
    if (hang) plantHang(sched, hang);
    try {
      await guardStall(sched.run(), sched, stallMs);
    } catch (e) {
      runError = e;
      stalled = e instanceof SeedStall;
    }
  }

  // Collect the final state (through the scheduler, as everything else) and check it.
  // Not after a stall: the stalled task still holds the scheduler (its run never returns).
  let final: FinalState | undefined;
  if (!stalled) {
    sched.spawn('sim', 'collect', async () => {
      final = await collect(world, { healed, healMs, healBoundMs }, loops);
    });
    try {
      await guardStall(sched.run(), sched, stallMs);
    } catch (e) {
      runError ??= e;
      stalled = e instanceof SeedStall;
    }
  }
  // Observations still queued (the run ended before the databases were free) run now.
  if (!stalled) await world.observer.flush();
  const violations: Violation[] = [...world.liveViolations];
  if (runError !== undefined) violations.push(isSeedTimeout(runError) ? seedTimeoutViolation(runError, sched) : exceptionViolation(runError, { t: sched.now }));
  if (final) for (const m of modules) if (m.final) violations.push(...(await m.final(final)));
  // The same message in every process (a replay file's expected violations compare across runs).
  for (const v of violations) if (v.message.includes(prefix)) v.message = v.message.replaceAll(prefix, 'sim');
  for (const v of violations.filter((x) => x.t !== undefined)) sched.record(v.lane ?? 'sim', 'violation', `${v.checker}: ${v.message}`);
  // A stalled task may hold a database: then its schemas stay (bounded wait, the sweep goes on).
  if (stalled) await guardStall(dropSchemas(stores, prefix, world.clients), sched, stallMs).catch(() => {});
  else await dropSchemas(stores, prefix, world.clients);

  return {
    seed: config.seed,
    verdict: violations.length ? 'violation' : 'converged',
    violations,
    traceHash: sched.traceLog.hash(),
    stats: {
      events: schedule.length,
      traceEvents: sched.traceLog.length,
      mutations: world.stats.mutations,
      pushes: world.stats.pushes,
      pulls: world.stats.pulls,
      statements: world.statements.statements,
      faults: Object.fromEntries(Object.entries({ ...world.stats.faults, ...messageFaultCounts(sched.traceLog) }).sort()),
      serverErrors: world.stats.serverErrors,
      checks: { ...world.observer.counts, ...(final ? Object.fromEntries(modules.filter((m) => m.final).map((m) => [m.name, 1])) : {}) },
      virtualMs: sched.now,
      wallMs: Math.round(performance.now() - wall0),
    },
    schedule,
    // Built when read (a failing seed's timeline, a determinism diff): a long run's events as objects cost more than the run's own trace.
    get trace() {
      return sched.trace;
    },
    config,
    ...(stalled ? { stalled } : {}),
  };
}

/**
 * The per-message faults the network does not count itself, from the trace (once per seed, off
 * the hot path): lost acks, cut-off and slow answers, and duplicate deliveries.
 */
function messageFaultCounts(trace: Iterable<TraceEvent>): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (k: string) => (out[k] = (out[k] ?? 0) + 1);
  for (const e of trace) {
    if (e.kind === 'lost-ack' || e.kind === 'truncated' || e.kind === 'slow-response') add(e.kind);
    else if (e.lane === 'server' && e.kind.endsWith('-recv') && e.detail?.includes(' (dup)')) add('duplicate');
  }
  return out;
}

/**
 * The tasks the schedule's events started, so that the heal begins once they are done. A client's
 * crash kills its tasks, perhaps before they ever ran: those count as done once its incarnation moved.
 */
function tracker(sched: SimWorld['sched']) {
  const open = new Set<{ c?: SimClient; incarnation?: number }>();
  let changed: Future<void> | null = null;
  return {
    wrap(c: SimClient | undefined, fn: () => Promise<void>): () => Promise<void> {
      const entry = { c, incarnation: c?.incarnation };
      open.add(entry);
      return async () => {
        try {
          await fn();
        } finally {
          open.delete(entry);
          changed?.resolve();
        }
      };
    },
    /** Waits until every event's task is done (or dead), or boundMs passed. */
    async idle(boundMs: number): Promise<void> {
      const until = sched.now + boundMs;
      for (;;) {
        for (const e of open) if (e.c && e.c.incarnation !== e.incarnation) open.delete(e);
        if (open.size === 0 || sched.now >= until) return;
        changed = sched.future<void>();
        const bound = new Error('bound');
        try {
          await sched.waitFor(changed, until - sched.now, () => bound);
        } catch (e) {
          if (e !== bound) throw e;
        }
      }
    },
  };
}

function startEvent(world: SimWorld, e: ScheduleEvent, events: ReturnType<typeof tracker>): void {
  const { sched } = world;
  if (e.kind === 'sync') {
    // The app asks for a sync (a button, a focus event): a poke to the client's loop.
    const c = world.client(e.client);
    if (!c.engine) sched.record(c.name, 'skipped', 'sync while down');
    else {
      sched.record(c.name, 'sync-request');
      c.engine.requestSync();
    }
    return;
  }
  if (e.kind === 'op' || e.kind === 'mutate') {
    const c = world.client(e.client);
    sched.spawn(c.name, e.kind === 'op' ? `${e.op} ${e.type}/${e.id}` : e.name, events.wrap(c, async () => {
      if (!c.engine) {
        sched.record(c.name, 'skipped', `${e.kind} while down`);
        return;
      }
      if (e.kind === 'mutate') await runMutate(world, c, e);
      else await runOp(world, c, e);
    }));
    return;
  }
  const m = faultModuleFor(e.kind);
  if (!m) throw new Error(`no fault module for "${e.kind}"`);
  world.countFault(e.kind);
  sched.spawn('faults', e.kind, events.wrap(undefined, () => m.apply(world, e)));
}

/**
 * Heal: every fault ends (the network keeps only its latency, the server and every client are
 * up), then the loops do the rest on their own: wait in virtual time until every client has
 * nothing pending and has pulled up to the server's version, or until the bound. Then the loops
 * stop. What each loop was doing at that moment goes to the liveness checker.
 */
async function heal(world: SimWorld): Promise<{ healed: boolean; healMs: number; healBoundMs: number; loops: Map<string, LoopFinal> }> {
  const { sched, config } = world;
  const healStart = sched.now;
  world.network = { ...config.network, ...Object.fromEntries(messageFaults.map((f) => [f.rate, 0])) };
  sched.record('sim', 'heal');
  // Each fault module ends its fault: the server first, then every client.
  for (const m of faultModules) await m.healServer?.(world);
  for (const c of world.clients) for (const m of faultModules) await m.heal?.(world, c);
  let healed = false;
  const outOfTime = new Error('heal bound');
  let bound = healStart + config.healBudgetMs;
  let extended = false;
  for (;;) {
    // Quiescence can only begin when some loop ends a run; armed before the check so that none is missed.
    const settled = world.nextLoopSettle();
    if (await quiescent(world)) {
      healed = true;
      break;
    }
    const left = bound - sched.now;
    if (left <= 0 && !extended) {
      // At the bound, once: room for what the configuration can still drain (a push budget, a
      // rate limit); see heal-capacity.ts. Capped, so a seed's virtual time stays bounded.
      extended = true;
      const capacity = await healCapacity(world);
      const extra = Math.min(capacity.ms, maxExtensionBounds * config.healBudgetMs);
      sched.record('sim', 'heal-extended', `${extra} ms for ${capacity.detail}`);
      bound = sched.now + extra;
      continue;
    }
    if (left <= 0) break;
    try {
      await sched.waitFor(settled, left, () => outOfTime);
    } catch (e) {
      if (e !== outOfTime) throw e;
    }
  }
  const loops = new Map(world.clients.map((c) => [c.name, loopFinal(c)]));
  world.stopLoops();
  const healMs = sched.now - healStart;
  sched.record('sim', healed ? 'quiescent' : 'heal-timeout', `${healMs} ms`);
  return { healed, healMs, healBoundMs: bound - healStart, loops };
}

/** What a client's loop is doing: its failures in a row (the backoff exponent), its last error, its wait. */
function loopFinal(c: SimClient): LoopFinal {
  const state = c.engine ? syncLoopState(c.engine) : { active: false, failures: 0 };
  const w = c.loop.wait;
  const waiting = !c.engine ? 'down' : !state.active ? 'loop not running' : w ? `${w.ms} ms wait since t=${w.since}${state.failures > 0 ? ' (backoff)' : ''}` : 'first run';
  return { failures: state.failures, lastError: c.loop.lastError, waiting };
}

/** An app mutator call; one its mutator refuses on the client queues nothing (as in production) and is only traced. */
async function runMutate(world: SimWorld, c: SimClient, e: Extract<ScheduleEvent, { kind: 'mutate' }>): Promise<void> {
  try {
    await world.mutate(c, () => c.engine!.mutate(e.name, e.args as never));
  } catch (err) {
    if (!(err instanceof MutationRejectedError)) throw err;
    world.sched.record(c.name, 'refused', `${e.name} ${JSON.stringify(e.args)}: ${err.message}`);
  }
}

async function runOp(world: SimWorld, c: SimClient, e: Extract<ScheduleEvent, { kind: 'op' }>): Promise<void> {
  const engine = c.engine!;
  if (isWideOp(e)) return runWideOp(world, c, e, (op) => world.mutate(c, op));
  if (e.op === 'upsert') await world.mutate(c, () => engine.upsert(e.type, e.id, (e.data ?? {}) as never));
  else if (e.op === 'delete') await world.mutate(c, () => engine.delete(e.type, e.id));
  else await world.mutate(c, () => engine.increment(e.type, e.id, e.field ?? 'n', e.by ?? 1), { op: 'increment', type: e.type, id: e.id, by: e.by ?? 1 });
}

async function quiescent(world: SimWorld): Promise<boolean> {
  // The epoch too: after a restore the new database can reach the very version a client's cookie
  // names in the lost one, and that client has not caught up (its next pull resets it).
  const db = world.server.database;
  const head = (await db.db.query<{ version: number; epoch: string | null }>(`SELECT version, epoch FROM "${db.schema}".meta WHERE id = 1`)).rows[0]!;
  const version = Number(head.version);
  // A client moving to a new client group (its registration was refused) starts over from nothing.
  if (apiState(world).moving.size > 0) return false;
  for (const c of world.clients) {
    // Without a confirmed token the client still has to register, and a 409 moves it to a new group.
    if (!holdsGroupToken(world, c.engine!.clientGroupID) || isMoving(c.engine!)) return false;
    const meta = (await c.engine!.store.readMeta())!;
    if (meta.cookie !== version || (meta.epoch ?? null) !== (head.epoch ?? null) || (await c.engine!.store.pendingCount()) > 0) return false;
  }
  // Nor is a client in the middle of a sync: its request in flight (a registration that will be
  // refused, say) can still change its state after the loops stop.
  for (const c of world.clients) if ((await c.engine!.getState()).syncing) return false;
  return true;
}

async function collect(world: SimWorld, heal: { healed: boolean; healMs: number; healBoundMs: number }, loops: Map<string, LoopFinal>): Promise<FinalState> {
  const db = world.server.database;
  const clients: ClientFinal[] = [];
  for (const c of world.clients) {
    const engine = c.engine!;
    const meta = (await engine.store.readMeta())!;
    const loop = loops.get(c.name);
    clients.push({ lane: c.name, clientID: engine.clientID, visible: await engine.visibleEntities(), pending: await engine.pendingMutations(), cookie: meta.cookie, lastMutationID: meta.lastMutationID, ...(loop ? { loop } : {}) });
  }
  return {
    t: world.sched.now,
    server: await serverFinal(world),
    clients,
    queued: world.queued,
    wipedClientIDs: world.wipedClientIDs,
    observations: world.observations,
    answers: world.answers,
    healed: heal.healed,
    healMs: heal.healMs,
    healBudgetMs: heal.healBoundMs,
  };
}

/** The server's final state; the log is the whole history (what compactions dropped, then what is left). */
async function serverFinal(world: SimWorld): Promise<FinalState['server']> {
  const db = world.server.database;
  const horizon = await db.horizon();
  const log = await db.readLog();
  return {
    entities: await db.readEntities(),
    log: [...world.compactedLog.filter((e) => e.version <= horizon), ...log],
    clients: await db.readClients(),
    version: await db.version(),
    registry: db.registry,
    base: await db.readLogBase(),
    horizon,
  };
}

/** Frees the run's schemas so that a long sweep on shared instances does not grow without bound. */
async function dropSchemas(stores: Stores, prefix: string, clients: SimClient[]): Promise<void> {
  // A planted bug's hand-written BEGIN (manual-begin-commit) can leave the shared session inside
  // an aborted transaction when the run ends; without a rollback every later seed fails on it.
  await stores.server.exec('ROLLBACK');
  await stores.server.exec(`DROP SCHEMA IF EXISTS "${prefix}_server" CASCADE`);
  const names = new Set<string>();
  for (const c of clients) for (let g = 0; g <= c.generation; g++) names.add(`"${prefix}_${c.name}_g${g}"`);
  const list = [...names];
  for (let i = 0; i < list.length; i += 200) await stores.clients.exec(`DROP SCHEMA IF EXISTS ${list.slice(i, i + 200).join(', ')} CASCADE`);
}
