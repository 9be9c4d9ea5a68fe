import { defineSimulation, type EntitiesView } from 'lockstep/sim';
import { listMutators } from './mutators.ts';

const pool = ['i0', 'i1', 'i2', 'i3', 'i4', 'i5', 'i6'];

/** What a client shows: the items sorted by position. Returns why that is not a valid list, if it is not. */
function problem(v: EntitiesView): string | undefined {
  const ids = (v.get('list', 'main')?.ids as string[] | undefined) ?? [];
  if (new Set(ids).size !== ids.length) return `the list holds an item twice: ${ids.join(', ')}`;
  const items = v.all('item');
  const shown = [...items].sort((a, b) => (a.pos as number) - (b.pos as number)).map((x) => x.id);
  if (items.length !== ids.length || shown.join() !== ids.join()) return `items sorted by position read ${shown.join(', ')}, the list says ${ids.join(', ')}`;
  for (let i = 1; i < items.length; i++) {
    const [a, b] = [v.get('item', shown[i - 1]!)!, v.get('item', shown[i]!)!];
    if (a.pos === b.pos) return `${a.id} and ${b.id} share position ${a.pos}, so clients may show them in either order`;
  }
  return undefined;
}

export function listSimulation(o: { bug?: boolean } = {}) {
  return defineSimulation({
    name: 'list',
    version: 1,
    mutators: listMutators(o),
    setup: pool.slice(0, 4).map((id, i) => ({ name: 'insert', args: { id, after: i === 0 ? null : pool[i - 1]!, label: `item ${id}` } })),
    workload: (r) =>
      r.weighted([
        [3, () => ({ name: 'insert', args: { id: r.pick(pool), after: r.pick([null, ...pool]), label: `v${r.int(0, 99)}` } })],
        [5, () => ({ name: 'move', args: { id: r.pick(pool), after: r.pick([null, ...pool]) } })],
        [2, () => ({ name: 'remove', args: { id: r.pick(pool) } })],
      ]),
    invariants: {
      'same-order': {
        // Every client and the server show one order, with no item twice and no shared position.
        final: (s) => {
          const bad = problem(s);
          if (bad) return `server: ${bad}`;
          const want = s.all('item').sort((a, b) => (a.pos as number) - (b.pos as number)).map((x) => x.id).join(', ');
          for (const c of s.clients) {
            const got = c.all('item').sort((a, b) => (a.pos as number) - (b.pos as number)).map((x) => x.id).join(', ');
            if (got !== want) return `${c.lane} shows ${got}, the server ${want}`;
          }
          return true;
        },
        live: (v) => problem(v) ?? true,
      },
    },
    faults: { clients: 4, steps: 120 },
  });
}

export default listSimulation();
/** The planted bug: `lockstep run --sim examples/list/list.sim.ts#buggy`. */
export const buggy = listSimulation({ bug: true });
