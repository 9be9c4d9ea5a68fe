import { violation } from '../findings.ts';
import { builtinModels, type Doc, type ModelOutcome, type ModelState, type MutatorModel } from './model-mutators.ts';
import { modelChecker } from './model.ts';
import type { CheckerModule, Violation } from './types.ts';
import { ledgerMutators } from '../custom-mutators.ts';

/**
 * The swarm's ledger mutators (custom-mutators.ts) written again from their specification, for the
 * model oracle: pure, over the model's state, calling no production code. Every account opens with
 * 100 on first use and raises ledger/supply.total by as much.
 */
const opening = 100;
const acct = (id: string) => `account/${id}`;
const supplyKey = 'ledger/supply';

function opener(state: ModelState, writes: Map<string, Doc | null>) {
  const now = (k: string) => (writes.has(k) ? (writes.get(k) ?? undefined) : state.get(k));
  return (id: string): number => {
    const doc = now(acct(id));
    if (doc) return doc.balance as number;
    const total = ((now(supplyKey)?.total as number | undefined) ?? 0) + opening;
    writes.set(supplyKey, { total });
    writes.set(acct(id), { balance: opening });
    return opening;
  };
}

export const ledgerModels: Readonly<Record<string, MutatorModel>> = {
  transfer(state, a): ModelOutcome {
    const { from, to, amount } = a as { from: string; to: string; amount: number };
    if (from === to) return { error: 'transfer to itself' };
    const writes = new Map<string, Doc | null>();
    const open = opener(state, writes);
    const f = open(from);
    const t = open(to);
    if (f < amount) return { error: 'overdraw' };
    writes.set(acct(from), { balance: f - amount });
    writes.set(acct(to), { balance: t + amount });
    return { writes };
  },
  closeAccount(state, a): ModelOutcome {
    const { id, into } = a as { id: string; into: string };
    if (id === into) return { error: 'close into itself' };
    const closing = state.get(acct(id));
    if (!closing) return { writes: new Map() };
    const writes = new Map<string, Doc | null>();
    const got = opener(state, writes)(into);
    writes.set(acct(id), null);
    writes.set(acct(into), { balance: got + (closing.balance as number) });
    return { writes };
  },
};

/** The model oracle with the ledger's models next to the built-ins' (a ledger mutator in the log is checked like any other). */
export const modelWithLedger = modelChecker({ ...builtinModels, ...ledgerModels });

/** Why a state breaks the ledger's invariant (balances add up to the supply, none negative, the gauge finite), or undefined. */
export function ledgerProblem(entities: ReadonlyMap<string, Record<string, unknown>>): string | undefined {
  let sum = 0;
  for (const [k, v] of entities) {
    if (!k.startsWith('account/')) continue;
    if (typeof v.balance !== 'number' || v.balance < 0) return `${k} holds ${JSON.stringify(v.balance)}`;
    sum += v.balance;
  }
  const supply = (entities.get(supplyKey)?.total as number | undefined) ?? 0;
  if (sum !== supply) return `the accounts hold ${sum} but the supply is ${supply}`;
  const gauge = entities.get('gauge/g0');
  if (gauge && !(typeof gauge.level === 'number' && Number.isFinite(gauge.level))) return `gauge/g0.level is ${JSON.stringify(gauge.level)}`;
  return undefined;
}

/** Conservation, on the server's entities and on every client's final visible state. */
export const ledger: CheckerModule = {
  name: 'ledger',
  final(s) {
    // Only where the world registered the ledger (an app simulation may have an `account` type of its own).
    if (s.server.registry?.transfer !== ledgerMutators.transfer) return [];
    const out: Violation[] = [];
    const server = ledgerProblem(s.server.entities);
    if (server) out.push(violation('ledger', `server: ${server}`, { lane: 'server', t: s.t }));
    for (const c of s.clients) {
      const p = ledgerProblem(c.visible);
      if (p) out.push(violation('ledger', `${c.lane}: ${p}`, { lane: c.lane, clientID: c.clientID, t: s.t }));
    }
    return out;
  },
};
