import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGliteDb } from '../db/pglite.ts';
import { PersistentSyncEngine } from '../engine/index.ts';
import { snapshotWithCookie } from '../engine/simulation.ts';
import { ProtocolError, TransportError, type EntityData, type PatchOp } from '../protocol/index.ts';
import { systemClock } from '../seams/index.ts';
import { checkers, type FinalState, type Violation } from '../sim/checkers/index.ts';
import { Rng } from '../sim/rng.ts';
import type { BugVariant } from '../sim/bugs/index.ts';
import type { Observation, QueuedMutation } from '../sim/world-types.ts';
import { faultyTransport, type FaultRates, type TransportStats } from './faulty-transport.ts';
import { openFleet } from './servers.ts';

export interface StressOptions {
  server: 'postgres' | 'pglite';
  servers: number;
  clients: number;
  seconds: number;
  faults: FaultRates;
  /** pg connections per server instance. */
  poolSize: number;
  /** Most heal rounds (every client syncs once per round) before convergence counts as failed. */
  healRounds: number;
  outDir: string;
  seed: string;
  /** A planted-bug server (src/sim/bugs) instead of the real one: shows what the stress mode catches. */
  bug?: BugVariant;
  log?: (line: string) => void;
}

export interface StressResult {
  violations: Violation[];
  mutations: number;
  applied: number;
  pushes: number;
  pulls: number;
  loadSeconds: number;
  healSeconds: number;
  historyFile: string;
  transport: TransportStats;
}

interface HistoryEvent {
  t: number;
  client: string;
  op: string;
  ok: boolean;
  detail?: unknown;
}

/** The checkers whose FinalState inputs the stress run can supply (liveness is replaced by the heal bound). */
const finalCheckers = ['convergence', 'exactly-once', 'no-lost-write', 'per-client-order', 'monotonic', 'counters', 'log-replay'] as const;

const DOCS = 12;
const TALLIES = 4;
const HISTORY_CAP = 500_000;

/**
 * Jepsen-style stress: real engines hammer several real server instances at once through a
 * faulty transport, then the faults stop, everyone syncs until quiet, and the end-of-run
 * checkers run on what is there. Not deterministic: the seed picks operations and faults, but
 * the interleaving is whatever PostgreSQL and the event loop make of it.
 */
export async function runStress(o: StressOptions): Promise<StressResult> {
  const log = o.log ?? ((l: string) => console.log(l));
  const clock = systemClock;
  const t0 = clock.now();
  const rng = new Rng(o.seed);
  const fleet = await openFleet(o.server, o.servers, o.poolSize, o.bug);
  const clientDb = await PGliteDb.open();
  const history: HistoryEvent[] = [];
  let historyDropped = 0;
  const record = (e: HistoryEvent) => (history.length < HISTORY_CAP ? history.push(e) : historyDropped++);
  const queued: QueuedMutation[] = [];
  const observations: Observation[] = [];
  const snapshots: { client: string; cookie: number; state: string; t: number }[] = [];
  const stats: TransportStats = { pushes: 0, pulls: 0, drops: 0, lostAcks: 0, duplicates: 0 };
  let faultsOn = true;
  const violations: Violation[] = [];
  log(`lockstep stress: ${o.clients} clients, ${fleet.describe}, ${o.seconds} s, faults drop ${o.faults.drop} lost-ack ${o.faults.lostAck} duplicate ${o.faults.duplicate}, seed ${o.seed}${o.bug ? `, planted bug ${o.bug.name}` : ''} (not deterministic)`);

  try {
    const engines: { name: string; engine: PersistentSyncEngine; rng: Rng }[] = [];
    for (let i = 0; i < o.clients; i++) {
      const crng = rng.fork(`c${i}`);
      const transport = faultyTransport(fleet.servers, crng.fork('net'), o.faults, () => faultsOn, stats);
      const engine = await PersistentSyncEngine.open({ db: clientDb, schema: `stress_c${i}`, transport, pushBatchSize: 20 });
      engines.push({ name: `c${i}`, engine, rng: crng });
    }

    const observe = async (name: string, engine: PersistentSyncEngine) => {
      const s = await engine.getState();
      observations.push({ clientID: engine.clientID, lane: name, t: clock.now() - t0, cookie: s.cookie, lastMutationID: s.lastMutationID });
    };
    const afterPull = async (name: string, engine: PersistentSyncEngine) => {
      const { cookie, snapshot } = await snapshotWithCookie(engine.store);
      if (cookie !== null) snapshots.push({ client: name, cookie, state: canonical(snapshot), t: clock.now() - t0 });
      await observe(name, engine);
    };

    const step = async (name: string, engine: PersistentSyncEngine, r: Rng) => {
      const x = r.next();
      const t = clock.now() - t0;
      try {
        if (x < 0.45) {
          const kind = r.pick(['upsert', 'upsert', 'delete', 'increment'] as const);
          const id = `k${r.int(0, kind === 'increment' ? TALLIES - 1 : DOCS - 1)}`;
          const m =
            kind === 'increment'
              ? await engine.increment('tally', id, 'n', r.int(1, 3))
              : kind === 'delete'
                ? await engine.delete('doc', id)
                : await engine.upsert('doc', id, { by: name, v: r.int(0, 1_000_000) });
          const args = m.args as { by?: number };
          queued.push({ lane: name, clientID: engine.clientID, mutationID: m.id, name: m.name, args: m.args, t, intent: kind === 'increment' ? { op: 'increment', type: 'tally', id, by: args.by ?? 0 } : undefined });
          record({ t, client: name, op: kind, ok: true, detail: { id: m.id, args: m.args } });
        } else if (x < 0.7) {
          const n = await engine.push();
          record({ t, client: name, op: 'push', ok: true, detail: { sent: n } });
        } else {
          await engine.pull();
          await afterPull(name, engine);
          record({ t, client: name, op: 'pull', ok: true, detail: { cookie: (await engine.getState()).cookie } });
        }
      } catch (e) {
        const expected = e instanceof TransportError;
        record({ t, client: name, op: x < 0.45 ? 'mutate' : x < 0.7 ? 'push' : 'pull', ok: false, detail: `${(e as Error).name}: ${(e as Error).message}` });
        if (!expected && !(e instanceof ProtocolError)) throw e;
      }
    };

    // Load: every client runs its own loop until the deadline.
    const loadStart = clock.now();
    const deadline = loadStart + o.seconds * 1000;
    await Promise.all(engines.map(async ({ name, engine, rng: r }) => {
      while (clock.now() < deadline) await step(name, engine, r);
    }));
    const loadSeconds = (clock.now() - loadStart) / 1000;
    const pushes = stats.pushes;
    const pulls = stats.pulls;

    // Heal: no faults; rounds of everyone syncing at once until every client is quiet and current.
    faultsOn = false;
    const healStart = clock.now();
    let healed = false;
    let healError: string | undefined;
    for (let round = 0; round < o.healRounds && !healed; round++) {
      await Promise.all(engines.map(async ({ name, engine }) => {
        try {
          await engine.sync();
          await afterPull(name, engine);
        } catch (e) {
          healError = `${name}: ${(e as Error).message}`;
        }
      }));
      const version = await fleet.servers[0]!.database.version();
      const states = await Promise.all(engines.map(({ engine }) => engine.getState()));
      healed = states.every((s) => s.pendingCount === 0 && s.cookie === version);
    }
    const healSeconds = (clock.now() - healStart) / 1000;
    if (!healed) violations.push({ checker: 'liveness', message: `not converged after ${o.healRounds} heal rounds without faults${healError ? ` (last error ${healError})` : ''}` });

    const db = fleet.servers[0]!.database;
    const final: FinalState = {
      t: clock.now() - t0,
      server: { entities: await db.readEntities(), log: await db.readLog(), clients: await db.readClients(), version: await db.version() },
      clients: await Promise.all(engines.map(async ({ name, engine }) => {
        const s = await engine.getState();
        return { lane: name, clientID: engine.clientID, visible: await engine.visibleEntities(), pending: await engine.pendingMutations(), cookie: s.cookie, lastMutationID: s.lastMutationID };
      })),
      queued,
      wipedClientIDs: new Set(),
      observations,
      // Stress answers come from real transports; the no-5xx checker is not among finalCheckers here.
      answers: [],
      healed,
      healMs: healSeconds * 1000,
      healBudgetMs: Infinity,
      healError,
    };
    for (const name of finalCheckers) violations.push(...(await checkers[name]!(final)));
    violations.push(...snapshotCheck(final.server.log, snapshots));

    const applied = final.server.log.length;
    const historyFile = join(o.outDir, 'history.json');
    mkdirSync(o.outDir, { recursive: true });
    writeFileSync(historyFile, JSON.stringify({ options: { ...o, log: undefined, bug: o.bug?.name }, violations, historyDropped, history, serverLog: final.server.log }, null, 0));
    return { violations, mutations: queued.length, applied, pushes, pulls, loadSeconds, healSeconds, historyFile, transport: stats };
  } finally {
    await clientDb.close().catch(() => {});
    await fleet.close();
  }
}

function canonical(m: Map<string, EntityData>): string {
  return JSON.stringify([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Every snapshot a client pulled at cookie v equals the fold of the server's log up to v (a state the server had). */
export function snapshotCheck(log: { version: number; effects: PatchOp[] }[], snapshots: { client: string; cookie: number; state: string; t: number }[]): Violation[] {
  const out: Violation[] = [];
  const sorted = [...snapshots].sort((a, b) => a.cookie - b.cookie);
  const entries = [...log].sort((a, b) => a.version - b.version);
  const state = new Map<string, EntityData>();
  let i = 0;
  let folded: { at: number; json: string } | undefined;
  for (const s of sorted) {
    while (i < entries.length && entries[i]!.version <= s.cookie) {
      for (const e of entries[i]!.effects) {
        if (e.op === 'put') state.set(e.key, e.value);
        else if (e.op === 'del') state.delete(e.key);
        else state.clear();
      }
      i++;
    }
    if (folded?.at !== s.cookie) folded = { at: s.cookie, json: canonical(state) };
    if (folded.json !== s.state) {
      out.push({ checker: 'snapshot', lane: s.client, version: s.cookie, t: s.t, message: `${s.client} pulled a state at cookie ${s.cookie} that the server never had: ${s.state.slice(0, 300)} vs the log folded to ${folded.json.slice(0, 300)}` });
      if (out.length >= 20) break;
    }
  }
  return out;
}
