import { violation } from '../findings.ts';
import type { Violation } from './types.ts';
import type { CheckerModule } from './types.ts';
import { builtinModels, canonical, type Doc, type MutatorModel } from './model-mutators.ts';

/**
 * The independent oracle: fold the replication log's names and args, in version order and
 * skipping failed entries, through models of the mutators written from their specification. The
 * result must equal the server's entities, and each entry's logged effects must be what the model
 * writes. Convergence cannot see a wrong mutator that client and server share; this can.
 * An app's custom mutator brings its own model (`models`).
 */
export function modelChecker(models: Readonly<Record<string, MutatorModel>> = builtinModels): CheckerModule {
  return {
    name: 'model',
    final(s) {
      const out: Violation[] = [];
      const state = new Map<string, Doc>();
      for (const e of [...s.server.log].sort((a, b) => a.version - b.version)) {
        if (e.error !== null) continue;
        const where = { clientID: e.clientID, version: e.version, t: s.t };
        const model = models[e.name];
        if (!model) {
          out.push(violation('model', `version ${e.version} ran mutator "${e.name}", which has no model`, where));
          continue;
        }
        const r = model(state, e.args);
        if ('error' in r) {
          out.push(violation('model', `version ${e.version} (${e.name} #${e.mutationID} of ${e.clientID}) succeeded on the server, but by its specification it fails: ${r.error}`, where));
          continue;
        }
        const logged = new Map<string, Doc | null>();
        for (const op of e.effects) if (op.op === 'put') logged.set(op.key, op.value as Doc);
        else if (op.op === 'del') logged.set(op.key, null);
        const want = canonical(Object.fromEntries([...r.writes].sort(([a], [b]) => (a < b ? -1 : 1))));
        const got = canonical(Object.fromEntries([...logged].sort(([a], [b]) => (a < b ? -1 : 1))));
        if (want !== got) {
          out.push(violation('model', `version ${e.version} (${e.name} ${JSON.stringify(e.args)} of ${e.clientID}) logged ${got}, but by its specification it writes ${want}`, { ...where, key: [...r.writes.keys()][0] }));
        }
        for (const [k, v] of r.writes) {
          if (v === null) state.delete(k);
          else state.set(k, v);
        }
      }
      const keys = [...new Set([...state.keys(), ...s.server.entities.keys()])].sort();
      for (const k of keys) {
        const want = canonical(state.get(k) ?? null);
        const got = canonical(s.server.entities.get(k) ?? null);
        if (want !== got) out.push(violation('model', `server entity ${k} is ${got}, but the log's mutations by their specification give ${want}`, { key: k, lane: 'server', t: s.t }));
      }
      return out.slice(0, 10);
    },
  };
}

export const model = modelChecker();
