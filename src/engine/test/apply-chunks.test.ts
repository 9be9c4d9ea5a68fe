/**
 * A pull page is written in statements of at most applyChunkBytes of JSON each (see
 * json-chunks.ts): with chunks of one row each, a multi-page catch-up over local pending writes
 * still ends with the snapshot equal to the server's, the visible state equal to the snapshot
 * with the pending writes replayed, and every key whose visible document changed reported.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedVisible } from '../simulation.ts';
import { openClient, openDbs, openServer, switchableTransport } from './world.ts';

let dbs: Awaited<ReturnType<typeof openDbs>>;
beforeAll(async () => {
  dbs = await openDbs();
});
afterAll(async () => dbs.close());

describe('pull apply in chunks', () => {
  it('one row per statement: same snapshot, rebased visible state and changes as one statement', async () => {
    const server = await openServer(dbs.serverDb, { pageSize: 7 });
    const writer = await openClient(dbs.clientDb, switchableTransport(() => server));
    for (let i = 0; i < 20; i++) await writer.upsert('doc', `d${i}`, { i, text: `document ${i}` });
    await writer.increment('doc', 'd3', 'i', 10);
    await writer.delete('doc', 'd5');
    await writer.sync();

    const reader = await openClient(dbs.clientDb, switchableTransport(() => server), { applyChunkBytes: 1 });
    // Pending local writes the pages are rebased under: one the server's puts overwrite, one new.
    await reader.upsert('doc', 'd1', { mine: true });
    await reader.increment('doc', 'd3', 'i', 100);
    const changed = new Map<string, number>();
    reader.onEntityChange((c) => void changed.set(c.key, (changed.get(c.key) ?? 0) + 1));
    while (await reader.pull()) {
      /* next page */
    }
    expect(await reader.store.snapshotMap()).toEqual(await server.readEntities());
    expect(await reader.visibleEntities()).toEqual(await expectedVisible(reader.store));
    expect((await reader.visibleEntities()).get('doc/d3')).toEqual({ i: 113, text: 'document 3' });
    const shown = [...(await reader.visibleEntities()).keys()].filter((k) => k !== 'doc/d1');
    expect(shown.length).toBe(18);
    expect([...changed.keys()]).toEqual(expect.arrayContaining(shown));
    expect(changed.has('doc/d1')).toBe(false);
  });

  it('a chunk bound that is not a positive integer is refused at open', async () => {
    const server = await openServer(dbs.serverDb);
    await expect(openClient(dbs.clientDb, switchableTransport(() => server), { applyChunkBytes: 0 })).rejects.toThrow(/applyChunkBytes/);
  });
});
