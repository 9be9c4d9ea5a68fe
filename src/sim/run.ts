import { createHash } from 'node:crypto';
import type { SimConfig } from './config.ts';
import { findBug, type BugVariant } from './bugs/index.ts';
import { checkerModules, checkers, type ClientFinal, type FinalState, type Violation } from './checkers/index.ts';
import { faultModuleFor, faultModules } from './faults/index.ts';
import { messageFaults } from './faults/network-faults.ts';
import { Rng } from './rng.ts';
import { generateSchedule, type ScheduleEvent } from './schedule.ts';
import type { TraceEvent } from './scheduler.ts';
import { SimWorld, type Stores } from './world.ts';
import { exceptionViolation } from './findings.ts';
import type { SimClient } from './world-types.ts';
import { isWideOp, runWideOp } from './wide-ops.ts';

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
}

export function hashTrace(trace: readonly TraceEvent[]): string {
  const h = createHash('sha256');
  for (const e of trace) h.update(`${e.t}|${e.lane}|${e.kind}|${e.detail ?? ''}\n`);
  return h.digest('hex').slice(0, 16);
}

let runCounter = 0;

/**
 * One seeded run: build the world, play the schedule (chaos), heal, check. With `schedule`, that
 * explicit schedule is played instead of one generated from the seed (replay and shrinking).
 */
export async function runSimulation(config: SimConfig, stores: Stores, options: { schedule?: ScheduleEvent[]; bug?: BugVariant } = {}): Promise<RunResult> {
  const wall0 = performance.now();
  const rng = new Rng(config.seed);
  // `options.bug` lets a test plant a variant that is not in the zoo (config.bug still names it).
  const bug = options.bug ?? (config.bug ? findBug(config.bug) : undefined);
  const schedule = options.schedule ?? generateSchedule(rng.fork('schedule'), config);
  // Schema names differ per run in a process, but never reach the trace: the trace hash stays a function of the seed.
  const prefix = `sim${process.pid}_${++runCounter}`;
  const world = await SimWorld.create(config, rng.fork('world'), stores, bug, prefix);
  const { sched } = world;

  // An exception out of production code is a finding of this seed, not the end of the sweep.
  let runError: unknown = world.setupError;
  // Chaos: one driver task releases each scheduled event at its time.
  if (runError === undefined) {
    sched.spawn('sim', 'driver', async () => {
      for (const e of schedule) {
        if (e.t > sched.now) await sched.sleep(e.t - sched.now);
        startEvent(world, e);
      }
    });
    try {
      await sched.run();
    } catch (e) {
      runError = e;
    }
  }

  // Heal: faults off, everyone online and up, then sync rounds until quiescent or the bound.
  const healStart = sched.now;
  let healed = false;
  let healError: string | undefined;
  if (runError === undefined) {
    world.network = { ...config.network, ...Object.fromEntries(messageFaults.map((f) => [f.rate, 0])) };
    sched.record('sim', 'heal');
    sched.spawn('sim', 'heal', async () => {
      // Each fault module ends its fault: the server first, then every client.
      for (const m of faultModules) await m.healServer?.(world);
      for (const c of world.clients) for (const m of faultModules) await m.heal?.(world, c);
      for (let round = 0; round < 12 && sched.now - healStart <= config.healBudgetMs; round++) {
        // Every client syncs at once, as real clients would; the round ends when all are done.
        const done = sched.future<void>();
        let left = world.clients.length;
        for (const c of world.clients) {
          sched.spawn(c.name, 'heal-sync', async () => {
            try {
              if (!(await world.sync(c, c.engine!))) healError = `${c.name} could not sync`;
            } finally {
              if (--left === 0) done.resolve();
            }
          });
        }
        await sched.waitFor(done, Number.POSITIVE_INFINITY, () => new Error('unreachable'));
        if (await quiescent(world)) {
          healed = true;
          return;
        }
      }
    });
    try {
      await sched.run();
    } catch (e) {
      runError = e;
    }
  }
  const healMs = sched.now - healStart;

  // Collect the final state (through the scheduler, as everything else) and check it.
  let final: FinalState | undefined;
  sched.spawn('sim', 'collect', async () => {
    final = await collect(world, { healed, healMs, healError });
  });
  try {
    await sched.run();
  } catch (e) {
    runError ??= e;
  }
  // Observations still queued (the run ended before the databases were free) run now.
  await world.observer.flush();
  const violations: Violation[] = [...world.liveViolations];
  if (runError !== undefined) violations.push(exceptionViolation(runError, { t: sched.now }));
  if (final) for (const [, check] of Object.entries(checkers)) violations.push(...(await check(final)));
  for (const v of violations.filter((x) => x.t !== undefined)) sched.record(v.lane ?? 'sim', 'violation', `${v.checker}: ${v.message}`);
  await dropSchemas(stores, prefix, world.clients);

  return {
    seed: config.seed,
    verdict: violations.length ? 'violation' : 'converged',
    violations,
    traceHash: hashTrace(sched.trace),
    stats: {
      events: schedule.length,
      traceEvents: sched.trace.length,
      mutations: world.stats.mutations,
      pushes: world.stats.pushes,
      pulls: world.stats.pulls,
      statements: world.statements.statements,
      faults: Object.fromEntries(Object.entries(world.stats.faults).sort()),
      serverErrors: world.stats.serverErrors,
      checks: { ...world.observer.counts, ...(final ? Object.fromEntries(checkerModules.filter((m) => m.final).map((m) => [m.name, 1])) : {}) },
      virtualMs: sched.now,
      wallMs: Math.round(performance.now() - wall0),
    },
    schedule,
    trace: sched.trace,
    config,
  };
}

function startEvent(world: SimWorld, e: ScheduleEvent): void {
  const { sched } = world;
  if (e.kind === 'op' || e.kind === 'sync') {
    const c = world.client(e.client);
    sched.spawn(c.name, e.kind === 'op' ? `${e.op} ${e.type}/${e.id}` : 'sync', async () => {
      const engine = c.engine;
      if (!engine) {
        sched.record(c.name, 'skipped', `${e.kind} while down`);
        return;
      }
      if (e.kind === 'sync') await world.sync(c, engine);
      else await runOp(world, c, e);
    });
    return;
  }
  const m = faultModuleFor(e.kind);
  if (!m) throw new Error(`no fault module for "${e.kind}"`);
  world.countFault(e.kind);
  sched.spawn('faults', e.kind, () => m.apply(world, e));
}

async function runOp(world: SimWorld, c: SimClient, e: Extract<ScheduleEvent, { kind: 'op' }>): Promise<void> {
  const engine = c.engine!;
  if (isWideOp(e)) return runWideOp(world, c, e, (op) => world.mutate(c, op));
  if (e.op === 'upsert') await world.mutate(c, () => engine.upsert(e.type, e.id, (e.data ?? {}) as never));
  else if (e.op === 'delete') await world.mutate(c, () => engine.delete(e.type, e.id));
  else await world.mutate(c, () => engine.increment(e.type, e.id, e.field ?? 'n', e.by ?? 1), { op: 'increment', type: e.type, id: e.id, by: e.by ?? 1 });
}

async function quiescent(world: SimWorld): Promise<boolean> {
  const version = await world.server.database.version();
  for (const c of world.clients) {
    const meta = (await c.engine!.store.readMeta())!;
    if (meta.cookie !== version || (await c.engine!.store.pendingCount()) > 0) return false;
  }
  return true;
}

async function collect(world: SimWorld, heal: { healed: boolean; healMs: number; healError?: string }): Promise<FinalState> {
  const db = world.server.database;
  const clients: ClientFinal[] = [];
  for (const c of world.clients) {
    const engine = c.engine!;
    const meta = (await engine.store.readMeta())!;
    clients.push({ lane: c.name, clientID: engine.clientID, visible: await engine.visibleEntities(), pending: await engine.pendingMutations(), cookie: meta.cookie, lastMutationID: meta.lastMutationID });
  }
  return {
    t: world.sched.now,
    server: { entities: await db.readEntities(), log: await db.readLog(), clients: await db.readClients(), version: await db.version(), registry: db.registry },
    clients,
    queued: world.queued,
    wipedClientIDs: world.wipedClientIDs,
    observations: world.observations,
    answers: world.answers,
    healed: heal.healed,
    healMs: heal.healMs,
    healBudgetMs: world.config.healBudgetMs,
    healError: heal.healError,
  };
}

/** Frees the run's schemas so that a long sweep on shared instances does not grow without bound. */
async function dropSchemas(stores: Stores, prefix: string, clients: SimClient[]): Promise<void> {
  await stores.server.exec(`DROP SCHEMA IF EXISTS "${prefix}_server" CASCADE`);
  const names = new Set<string>();
  for (const c of clients) for (let g = 0; g <= c.generation; g++) names.add(`"${prefix}_${c.name}_g${g}"`);
  const list = [...names];
  for (let i = 0; i < list.length; i += 200) await stores.clients.exec(`DROP SCHEMA IF EXISTS ${list.slice(i, i + 200).join(', ')} CASCADE`);
}
