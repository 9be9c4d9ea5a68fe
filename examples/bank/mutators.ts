import { defineMutator } from 'lockstep';
import { z } from 'zod';

const id = z.string().min(1).max(64);

/**
 * The bank's mutators, as the app registers them on client and server. `bug: true` plants a
 * realistic defect: the overdraft check runs only while speculating on the client, where the
 * balance may be stale, and the server trusts it, so two clients can spend the same money.
 */
export function bankMutators(o: { bug?: boolean } = {}) {
  return {
    open: defineMutator(z.object({ id, balance: z.number().int().nonnegative() }), async (tx, a) => {
      if (await tx.get('account', a.id)) throw new Error(`account ${a.id} already exists`);
      tx.put('account', a.id, { balance: a.balance });
    }),
    transfer: defineMutator(z.object({ from: id, to: id, amount: z.number().int().positive() }), async (tx, a) => {
      if (a.from === a.to) return;
      const from = await tx.get('account', a.from);
      const to = await tx.get('account', a.to);
      if (!from || !to) throw new Error(`no account ${from ? a.to : a.from}`);
      const balance = from.balance as number;
      const checkHere = o.bug ? tx.location === 'client' : true;
      if (checkHere && balance < a.amount) throw new Error(`insufficient funds: ${a.from} has ${balance}, transfer of ${a.amount} refused`);
      tx.put('account', a.from, { balance: balance - a.amount });
      tx.put('account', a.to, { balance: (to.balance as number) + a.amount });
    }),
  };
}
