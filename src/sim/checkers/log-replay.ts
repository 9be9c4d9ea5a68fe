import { builtinMutators, runMutator, type EntityData } from '../../protocol/index.ts';
import type { Checker, Violation } from './types.ts';
import { canonical } from './util.ts';

/**
 * The log must be explained by the mutators the server runs (so a mutator bug shared by client and
 * server passes here; the model checker is the independent oracle): re-running each logged mutation, in version order,
 * on the fold of the log before it gives exactly the logged effects. A server that drops or
 * rewrites what a mutator does fails here even when every client agrees with it.
 */
export const logReplay: Checker = async (s) => {
  const state = new Map<string, EntityData>();
  const out: Violation[] = [];
  for (const e of [...s.server.log].sort((a, b) => a.version - b.version)) {
    const r = await runMutator(s.server.registry ?? builtinMutators, { name: e.name, args: e.args, clientID: e.clientID, mutationID: e.mutationID }, 'server', async (k) => state.get(k));
    const want = JSON.stringify(r.effects);
    const got = JSON.stringify(e.effects);
    if (canonical(r.effects) !== canonical(e.effects) && out.length < 10) {
      out.push({
        checker: 'log-replay', clientID: e.clientID, version: e.version, t: s.t,
        message: `version ${e.version} (${e.name} #${e.mutationID} of ${e.clientID}) logged effects ${got}, but the mutator gives ${want} on the state before it`,
      });
    }
    for (const op of e.effects) {
      if (op.op === 'put') state.set(op.key, op.value);
      else if (op.op === 'del') state.delete(op.key);
    }
  }
  return out;
};
