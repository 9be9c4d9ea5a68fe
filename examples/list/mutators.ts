import { defineMutator, type MutatorTx } from 'lockstep';
import { z } from 'zod';

const id = z.string().min(1).max(64);
const after = id.nullable();

/**
 * An ordered list (insert, move, remove): each item has a fractional position (`pos`, a number between its neighbours'),
 * and the list document keeps the ids in order so that a mutator can find an item's neighbours
 * (a mutator can only read documents by key). Clients show the items sorted by `pos`.
 *
 * `bug: true` plants a realistic defect in `move`: it finds the slot of the target in the list
 * that still holds the moved item, then reads the neighbours from the list without it, so an
 * item moved down takes its position from a stale neighbour (one slot too far).
 */
export function listMutators(o: { bug?: boolean } = {}) {
  return {
    insert: defineMutator(z.object({ id, after, label: z.string().max(200) }), async (tx, a) => {
      if (await tx.get('item', a.id)) throw new Error(`item ${a.id} already exists`);
      const ids = await order(tx);
      const at = slotAfter(ids, a.after);
      await place(tx, [...ids.slice(0, at), a.id, ...ids.slice(at)], at, { label: a.label });
    }),
    move: defineMutator(z.object({ id, after }), async (tx, a) => {
      const item = await tx.get('item', a.id);
      if (!item) throw new Error(`no item ${a.id}`);
      if (a.after === a.id) throw new Error('an item cannot move after itself');
      const ids = await order(tx);
      const rest = ids.filter((x) => x !== a.id);
      const at = slotAfter(rest, a.after);
      const next = [...rest.slice(0, at), a.id, ...rest.slice(at)];
      // The bug: the slot comes from the list before the item left it.
      const posAt = o.bug ? slotAfter(ids, a.after) : at;
      await place(tx, next, at, { label: item.label }, posAt);
    }),
    remove: defineMutator(z.object({ id }), async (tx, a) => {
      if (!(await tx.get('item', a.id))) throw new Error(`no item ${a.id}`);
      tx.del('item', a.id);
      tx.put('list', 'main', { ids: (await order(tx)).filter((x) => x !== a.id) });
    }),
  };
}

async function order(tx: MutatorTx): Promise<string[]> {
  return ((await tx.get('list', 'main'))?.ids as string[] | undefined) ?? [];
}

/** The slot right after `after` (null: the front); a missing target refuses the mutation. */
function slotAfter(ids: string[], after: string | null): number {
  if (after === null) return 0;
  const i = ids.indexOf(after);
  if (i < 0) throw new Error(`no item ${after}`);
  return i + 1;
}

/**
 * Writes the list with `ids[at]` positioned between its neighbours (read at `posAt`, normally
 * `at`). When the gap is too small for a midpoint, every item is renumbered 1..n.
 */
async function place(tx: MutatorTx, ids: string[], at: number, doc: Record<string, unknown>, posAt = at): Promise<void> {
  const others = ids.filter((_, i) => i !== at);
  const pos = async (i: number) => ((await tx.get('item', others[i]!))?.pos as number);
  const lo = posAt > 0 ? await pos(posAt - 1) : 0;
  const hi = posAt < others.length ? await pos(posAt) : lo + 2;
  const mid = (lo + hi) / 2;
  if (lo < mid && mid < hi) {
    tx.put('item', ids[at]!, { ...doc, pos: mid });
  } else {
    for (const [i, x] of ids.entries()) tx.put('item', x, { ...(i === at ? doc : await tx.get('item', x)), pos: i + 1 });
  }
  tx.put('list', 'main', { ids });
}
