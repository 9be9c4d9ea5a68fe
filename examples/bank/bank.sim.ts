import { defineSimulation, type MutatorModel } from 'lockstep/sim';
import { bankMutators } from './mutators.ts';

const accounts = ['a', 'b', 'c', 'd'];
const opening = 100;

/** The bank's mutators written again from their specification, for the model oracle. */
const models: Record<string, MutatorModel> = {
  open(state, args) {
    const { id, balance } = args as { id: string; balance: number };
    if (state.has(`account/${id}`)) return { error: `account ${id} already exists` };
    return { writes: new Map([[`account/${id}`, { balance }]]) };
  },
  transfer(state, args) {
    const { from, to, amount } = args as { from: string; to: string; amount: number };
    if (from === to) return { writes: new Map() };
    const f = state.get(`account/${from}`);
    const t = state.get(`account/${to}`);
    if (!f || !t) return { error: 'no such account' };
    if ((f.balance as number) < amount) return { error: 'insufficient funds' };
    return { writes: new Map([[`account/${from}`, { balance: (f.balance as number) - amount }], [`account/${to}`, { balance: (t.balance as number) + amount }]]) };
  },
};

export function bankSimulation(o: { bug?: boolean; builtins?: number } = {}) {
  return defineSimulation({
    name: 'bank',
    version: 1,
    mutators: bankMutators(o),
    models,
    setup: accounts.map((id) => ({ name: 'open', args: { id, balance: opening } })),
    workload: (r) => ({ name: 'transfer', args: { from: r.pick(accounts), to: r.pick(accounts), amount: r.int(1, 80) } }),
    invariants: {
      conservation: {
        final: (s) => s.sum('account', 'balance') === accounts.length * opening || `the server's accounts hold ${s.sum('account', 'balance')}, not ${accounts.length * opening}`,
        live: (v) => v.sum('account', 'balance') === accounts.length * opening || `its accounts hold ${v.sum('account', 'balance')}`,
      },
      'no-overdraft': {
        final: (s) => s.all('account').every((a) => (a.balance as number) >= 0) || `overdrawn: ${s.all('account').filter((a) => (a.balance as number) < 0).map((a) => `${a.id} ${a.balance}`).join(', ')}`,
        live: (v) => v.all('account').every((a) => (a.balance as number) >= 0) || 'it shows a negative balance',
      },
    },
    faults: { clients: 4, steps: 120 },
    ...(o.builtins ? { builtins: o.builtins } : {}),
  });
}

export default bankSimulation();
/** The planted bug: `lockstep run --sim examples/bank/bank.sim.ts#buggy`. */
export const buggy = bankSimulation({ bug: true });
/**
 * Transfers as a low-rate part of the built-in swarm (issue 9): 85% of workload steps are the
 * built-in comment/review/tally operations, 15% transfers, every invariant of both checked.
 * `lockstep run --sim examples/bank/bank.sim.ts#mixed --profile swarm --steps 300 --clients 8`
 */
export const mixed = bankSimulation({ builtins: 0.85 });
