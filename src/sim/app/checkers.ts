import type { EntityData } from '../../protocol/index.ts';
import { checkerModules } from '../checkers/index.ts';
import { modelChecker } from '../checkers/model.ts';
import { builtinModels } from '../checkers/model-mutators.ts';
import type { CheckerModule, FinalState, Violation } from '../checkers/types.ts';
import { violation } from '../findings.ts';
import type { ClientView, Doc, EntitiesView, FinalView, InvariantResult, Simulation } from './types.ts';

/** A read-only view over one side's entities (keys are `type/id`). */
export function entitiesView(entities: ReadonlyMap<string, EntityData>): EntitiesView {
  const byType = new Map<string, Doc[]>();
  for (const [key, data] of [...entities].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const slash = key.indexOf('/');
    const type = key.slice(0, slash);
    byType.set(type, [...(byType.get(type) ?? []), { ...(data as Record<string, unknown>), id: key.slice(slash + 1) }]);
  }
  return {
    all: (type) => byType.get(type) ?? [],
    get: (type, id) => byType.get(type)?.find((d) => d.id === id),
    sum: (type, field) => (byType.get(type) ?? []).reduce((s, d) => s + (typeof d[field] === 'number' ? (d[field] as number) : 0), 0),
  };
}

function finalView(s: FinalState): FinalView {
  const log = [...s.server.log].sort((a, b) => a.version - b.version);
  return {
    ...entitiesView(s.server.entities),
    clients: s.clients.map((c) => ({ ...entitiesView(c.visible), lane: c.lane, clientID: c.clientID })),
    log: log.map((e) => ({ version: e.version, name: e.name, args: e.args, clientID: e.clientID, mutationID: e.mutationID, error: e.error })),
    applied: (name) => log.filter((e) => e.name === name && e.error === null).length,
  };
}

const failed = (r: InvariantResult) => r === false || typeof r === 'string';
const messageOf = (r: InvariantResult, fallback: string) => (typeof r === 'string' ? r : fallback);

/** Each invariant as a checker module named `<sim>/<invariant>`: `final` on the end state, `live` after each pull. */
export function invariantCheckers(sim: Simulation): CheckerModule[] {
  return Object.entries(sim.invariants).map(([name, inv]) => {
    const checker = `${sim.name}/${name}`;
    const m: CheckerModule = { name: checker };
    if (inv.final) {
      const final = inv.final;
      m.final = async (s) => {
        const r = await final(finalView(s));
        return failed(r) ? [violation(checker, messageOf(r, `${name} does not hold on the healed state`), { t: s.t, lane: 'server' })] : [];
      };
    }
    if (inv.live) {
      const live = inv.live;
      m.observe = async (o) => {
        const view: ClientView = { ...entitiesView(await o.store.visibleMap()), lane: o.lane, clientID: o.clientID };
        const r = await live(view);
        return failed(r) ? [violation(checker, `${o.lane} (${o.clientID}) at ${o.t} ms: ${messageOf(r, `${name} does not hold on what it shows`)}`, { lane: o.lane, clientID: o.clientID, t: o.t })] : [];
      };
    }
    return m;
  });
}

/**
 * The checkers of a simulation run: the built-in ones, the app's invariants, then the model oracle
 * with the app's models (mutators without a model are trusted by their logged effects).
 */
export function simulationCheckers(sim: Simulation): CheckerModule[] {
  const builtins = checkerModules.filter((m) => m.name !== 'model');
  return [...builtins, ...invariantCheckers(sim), modelChecker({ ...builtinModels, ...sim.models }, { trustUnmodelled: true })];
}

export type { Violation };
