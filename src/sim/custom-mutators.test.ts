import { describe, expect, it } from 'vitest';
import { runMutator, createRegistry, type EntityData } from '../protocol/index.ts';
import { runSimulation } from './run.ts';
import { buildConfig } from './scenario.ts';
import { profiles } from './config.ts';
import { useSimStores } from '../../test/support/sim-stores.ts';
import { accountIds, customEvent, ledgerMutators } from './custom-mutators.ts';
import { ledger, ledgerModels, ledgerProblem } from './checkers/ledger.ts';
import { canonical, type Doc } from './checkers/model-mutators.ts';
import { Rng } from './rng.ts';
import type { FinalState } from './checkers/types.ts';

const getStores = useSimStores();
const registry = createRegistry(ledgerMutators);

/** One mutation through the production runMutator over a map (the server's state, as the model sees it). */
async function apply(state: Map<string, EntityData>, name: string, args: unknown, read?: (key: string) => Promise<EntityData | undefined>) {
  return runMutator(registry, { name, args, clientID: 'c', mutationID: 1 }, 'server', read ?? (async (k) => structuredClone(state.get(k))));
}

describe('the ledger (custom-mutators.ts) and its model (checkers/ledger.ts)', () => {
  it('the mutators and their independent model agree, op by op, over 2,000 drawn ops; the supply is conserved', async () => {
    const rng = new Rng('ledger-agree');
    const state = new Map<string, EntityData>();
    const outcomes = { applied: 0, failed: 0 };
    for (let i = 0; i < 2000; i++) {
      const e = customEvent(rng, i, 0, { ledgerRate: 1 } as never)!;
      if (e.kind !== 'mutate' || e.name === 'increment') continue;
      const got = await apply(state, e.name, e.args);
      const want = ledgerModels[e.name]!(state as Map<string, Doc>, e.args);
      expect('error' in want, `${e.name} ${JSON.stringify(e.args)}: ${got.error}`).toBe(got.error !== undefined);
      if ('error' in want) {
        outcomes.failed++;
        continue;
      }
      outcomes.applied++;
      const logged = Object.fromEntries(got.effects.map((op) => [op.key, op.op === 'put' ? op.value : null]));
      expect(canonical(logged)).toBe(canonical(Object.fromEntries(want.writes)));
      for (const op of got.effects) if (op.op === 'put') state.set(op.key, op.value);
      else if (op.op === 'del') state.delete(op.key);
      expect(ledgerProblem(state)).toBeUndefined();
    }
    // Both outcomes, closings that emptied an account included.
    expect(outcomes.applied).toBeGreaterThan(500);
    expect(outcomes.failed).toBeGreaterThan(100);
    expect(accountIds.some((id) => !state.has(`account/${id}`)) || outcomes.applied > 0).toBe(true);
  });

  it('a refusal thrown as a string reaches the log as its text; a read of a key the mutation wrote sees the write', async () => {
    const state = new Map<string, EntityData>();
    const self = await apply(state, 'transfer', { from: 'a0', to: 'a0', amount: 1 });
    expect(self).toEqual({ effects: [], error: 'transfer: a0 to itself' });
    // Both accounts open in one transfer: the supply is read again after this mutation wrote it.
    const both = await apply(state, 'transfer', { from: 'a0', to: 'a1', amount: 30, memo: { note: 'C:\\rent "May"' } });
    expect(Object.fromEntries(both.effects.map((e) => [e.key, e.op === 'put' ? e.value : null]))).toEqual({ 'ledger/supply': { total: 200 }, 'account/a0': { balance: 70 }, 'account/a1': { balance: 130 } });
  });

  it('a read that fails is the mutation\'s failure even when the mutator swallows it (never a logged effect)', async () => {
    const state = new Map<string, EntityData>([['account/a0', { balance: 5 }], ['account/a1', { balance: 5 }], ['ledger/supply', { total: 10 }]]);
    const boom = new Error('connection lost');
    await expect(apply(state, 'closeAccount', { id: 'a0', into: 'a1' }, async (k) => {
      if (k === 'account/a0') throw boom;
      return state.get(k);
    })).rejects.toBe(boom);
  });

  it('an increment that would overflow to Infinity fails cleanly and writes nothing', async () => {
    const r = await runMutator(createRegistry(), { name: 'increment', args: { type: 'gauge', id: 'g0', field: 'level', by: 1e308 }, clientID: 'c', mutationID: 1 }, 'server', async () => ({ level: 1e308 }));
    expect(r).toEqual({ effects: [], error: 'increment: gauge/g0.level + 1e+308 is not a finite number' });
  });

  it('the ledger checker finds a state whose balances do not add up to the supply, a negative balance, a non-finite gauge', async () => {
    const bad = (entities: [string, EntityData][], r = registry) => ledger.final!({ server: { entities: new Map(entities), registry: r }, clients: [], t: 0 } as unknown as FinalState) as ReturnType<NonNullable<typeof ledger.final>>;
    expect(await bad([['account/a0', { balance: 100 }], ['ledger/supply', { total: 100 }]])).toEqual([]);
    expect((await bad([['account/a0', { balance: 101 }], ['ledger/supply', { total: 100 }]]))[0]?.message).toMatch(/hold 101 but the supply is 100/);
    expect((await bad([['account/a0', { balance: -1 }]]))[0]?.message).toMatch(/holds -1/);
    expect((await bad([['gauge/g0', { level: null }]]))[0]?.message).toMatch(/gauge/);
    // Not where the ledger is not registered (an app simulation's own accounts: examples/bank).
    expect(await bad([['account/a', { balance: 100 }]], createRegistry())).toEqual([]);
  });

  it('a quiet swarm run with the ledger converges: transfers apply and fail on both sides, the gauge overflow is refused, every checker green', async () => {
    const base = buildConfig({ seed: 'ledger', profile: 'none', clients: 3, steps: 120 });
    const r = await runSimulation({ ...base, wide: { ...profiles.chaos.wide!, hostileRate: 0, intruderRate: 0, failingRate: 0, bigDocRate: 0, ledgerRate: 0.6 } }, getStores());
    expect(r.verdict, r.violations.map((v) => v.message).join('\n')).toBe('converged');
    const mutations = r.trace.filter((e) => e.kind === 'mutation').map((e) => e.detail ?? '');
    expect(mutations.some((d) => d.startsWith('transfer'))).toBe(true);
    expect(mutations.some((d) => d.startsWith('closeAccount'))).toBe(true);
    const refused = r.trace.filter((e) => e.kind === 'refused').map((e) => e.detail ?? '');
    expect(refused.some((d) => d.includes('is not a finite number')), refused.join('\n')).toBe(true);
    expect(refused.some((d) => d.includes('less than')), refused.join('\n')).toBe(true);
  }, 120_000);
});
