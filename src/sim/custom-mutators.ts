import { z } from 'zod';
import { defineMutator, jsonValueSchema, type MutatorRegistry, type MutatorTx } from '../protocol/index.ts';
import { simMutators } from './refused-label.ts';
import type { ScheduleEvent } from './schedule.ts';
import type { Rng } from './rng.ts';
import type { WideWorkload } from './wide-workload.ts';

/**
 * An app's own mutators in the swarm (issue 9, deliver 3), registered on client and server only in
 * the seeds that draw wide.ledgerRate: a small ledger whose total is conserved (checked by
 * checkers/ledger.ts, modelled in checkers/ledger-model.ts). They do what an app's mutators do and
 * the built-ins never do: read keys their args do not name, write several keys, read back what
 * they wrote, refuse by throwing a string (not an Error), and one swallows a failed read.
 *
 * - transfer {from, to, amount, memo?}: moves `amount` between two accounts. An account that does
 *   not exist yet opens with `opening` in it, raising ledger/supply.total by as much. Refuses
 *   (throws a string) a transfer to itself and one that would overdraw.
 * - closeAccount {id, into}: moves the whole balance of `id` into `into` (opening it if need be)
 *   and deletes `id`; a missing `id` is a no-op; refuses `id` === `into`.
 * Invariant: the balances add up to ledger/supply.total; none is negative.
 */
export const opening = 100;
export const accountIds = ['a0', 'a1', 'a2', 'a3'] as const;
const accountId = z.enum(accountIds);

type Account = { balance: number };

/** The account, opened (deposit and supply raised) if it does not exist. */
async function account(tx: MutatorTx, id: string): Promise<Account> {
  const doc = await tx.get('account', id);
  if (doc) return doc as Account;
  // When both accounts of a transfer open, this second read of the supply is of a key this mutation wrote.
  const supply = (await tx.get('ledger', 'supply')) as { total?: number } | undefined;
  tx.put('ledger', 'supply', { total: (supply?.total ?? 0) + opening });
  tx.put('account', id, { balance: opening });
  return { balance: opening };
}

export const ledgerMutators: MutatorRegistry = {
  // memo: free-form JSON an app attaches (the library's public jsonValueSchema); not stored.
  transfer: defineMutator(z.object({ from: accountId, to: accountId, amount: z.number().int().positive(), memo: jsonValueSchema.optional() }), async (tx, a) => {
    // Thrown as a string, as some apps do: the failure's text must still reach the log and the app.
    if (a.from === a.to) throw `transfer: ${a.from} to itself`;
    const from = await account(tx, a.from);
    const to = await account(tx, a.to);
    if (from.balance < a.amount) throw `transfer: ${a.from} holds ${from.balance}, less than ${a.amount}`;
    tx.put('account', a.from, { balance: from.balance - a.amount });
    tx.put('account', a.to, { balance: to.balance + a.amount });
  }),
  closeAccount: defineMutator(z.object({ id: accountId, into: accountId }), async (tx, a) => {
    if (a.id === a.into) throw `closeAccount: ${a.id} into itself`;
    // A read that fails is swallowed here (taken as "no such account"), as careless app code does:
    // runMutator must still fail the whole mutation with the read's error, never log this effect.
    const closing = (await tx.get('account', a.id).catch(() => undefined)) as Account | undefined;
    if (!closing) return;
    const into = await account(tx, a.into);
    tx.del('account', a.id);
    tx.put('account', a.into, { balance: into.balance + closing.balance });
    // Read back what this mutation did (the key it deleted): gone.
    if ((await tx.get('account', a.id)) !== undefined) throw new Error(`closeAccount: ${a.id} still there after its delete`);
  }),
};

/** A gauge an app increments by huge steps: near 1e308 the sum overflows, which increment must refuse. */
export const gaugeKey = { type: 'gauge', id: 'g0', field: 'level' } as const;

/** The mutators a world registers on client and server: the seed's label and ledger mutators, if it drew them. */
export function customMutators(w: WideWorkload | undefined): MutatorRegistry | undefined {
  const label = simMutators(w);
  return w?.ledgerRate ? { ...label, ...ledgerMutators } : label;
}

/**
 * A custom op (only in seeds that drew wide.ledgerRate, so the others draw as before): mostly
 * transfers (some overdraw, some to the same account), closings, and an increment of the gauge by
 * +-1e308 (the second in a row overflows: refused on the client, or failed on the server).
 */
export function customEvent(rng: Rng, t: number, client: number, w: WideWorkload): ScheduleEvent | undefined {
  if (!w.ledgerRate || !rng.chance(w.ledgerRate)) return undefined;
  const roll = rng.next();
  if (roll < 0.2) return { t, kind: 'mutate', client, name: 'increment', args: { ...gaugeKey, by: rng.pick([1e308, 1e308, 1e308, -1e308]) } };
  if (roll < 0.35) return { t, kind: 'mutate', client, name: 'closeAccount', args: { id: rng.pick(accountIds), into: rng.pick(accountIds) } };
  // An app's free text: quotes and backslashes (a path, a quotation) escape in JSON, and in SQL literals.
  const memo = rng.chance(0.3) ? { memo: { note: rng.pick(['rent', 'C:\\bills\\rent', 'the "big" one']), month: rng.int(1, 12) } } : {};
  return { t, kind: 'mutate', client, name: 'transfer', args: { from: rng.pick(accountIds), to: rng.pick(accountIds), amount: rng.int(1, 150), ...memo } };
}
