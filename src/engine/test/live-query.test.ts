import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { watchQuery, type LiveQueryState, type QuerySource } from '../index.ts';
import { openClient, openDbs, openServer, switchableTransport } from './world.ts';

let dbs: Awaited<ReturnType<typeof openDbs>>;
beforeAll(async () => {
  dbs = await openDbs();
});
afterAll(async () => dbs.close());

/** An engine whose queries are counted. */
function counted(engine: QuerySource): { source: QuerySource; queries: () => number } {
  let n = 0;
  return {
    source: { query: (s) => (n++, engine.query(s)), onEntityChange: (cb) => engine.onEntityChange(cb) },
    queries: () => n,
  };
}

describe('watchQuery (useLiveQuery underneath)', () => {
  it('answers ready (an empty store is not loading) and coalesces the changes of a 200-entity pull into one or two runs', async () => {
    const server = await openServer(dbs.serverDb);
    const writer = await openClient(dbs.clientDb, switchableTransport(() => server));
    for (let i = 0; i < 200; i++) await writer.upsert('comment', `c${i}`, { body: `b${i}` });
    await writer.sync();

    const reader = await openClient(dbs.clientDb, switchableTransport(() => server));
    const { source, queries } = counted(reader);
    const seen: LiveQueryState[] = [];
    const stop = watchQuery(source, { type: 'comment' }, (s) => seen.push(s));
    // The first answer: an empty store is 'ready' with no rows, not 'loading'.
    await expect.poll(() => seen.length).toBe(1);
    expect(seen[0]).toMatchObject({ status: 'ready', rows: [] });

    let changes = 0;
    reader.onEntityChange(() => changes++);
    await reader.sync();
    await expect.poll(() => seen.at(-1)?.rows.length).toBe(200);
    expect(changes).toBe(200);
    // One run for the first answer, then at most two for 200 changes (one in flight, one after).
    expect(queries()).toBeLessThanOrEqual(3);
    expect(seen.every((s) => s.status === 'ready')).toBe(true);
    stop();
    await reader.upsert('comment', 'after-stop', { body: 'x' });
    expect(queries()).toBeLessThanOrEqual(3);
    await Promise.all([reader.close(), writer.close()]);
  });

  it('reports a failing query as an error with the rows it had, and recovers on the next change', async () => {
    const server = await openServer(dbs.serverDb);
    const engine = await openClient(dbs.clientDb, switchableTransport(() => server));
    await engine.upsert('comment', 'a', { body: 'x' });
    let fail = false;
    const source: QuerySource = {
      query: (s) => (fail ? Promise.reject(new Error('database gone')) : engine.query(s)),
      onEntityChange: (cb) => engine.onEntityChange(cb),
    };
    const seen: LiveQueryState[] = [];
    watchQuery(source, { type: 'comment' }, (s) => seen.push(s));
    await expect.poll(() => seen.length).toBe(1);
    fail = true;
    await engine.upsert('comment', 'b', { body: 'y' });
    await expect.poll(() => seen.at(-1)?.status).toBe('error');
    expect(seen.at(-1)).toMatchObject({ status: 'error', rows: [{ id: 'a' }], error: { message: 'database gone' } });
    fail = false;
    await engine.upsert('comment', 'c', { body: 'z' });
    await expect.poll(() => seen.at(-1)?.rows.map((r) => r.id)).toEqual(['a', 'b', 'c']);
    expect(seen.at(-1)?.status).toBe('ready');
    await engine.close();
  });

  it('ignores changes of other types', async () => {
    const server = await openServer(dbs.serverDb);
    const engine = await openClient(dbs.clientDb, switchableTransport(() => server));
    const { source, queries } = counted(engine);
    const seen: LiveQueryState[] = [];
    const stop = watchQuery(source, { type: 'review' }, (s) => seen.push(s));
    await expect.poll(() => seen.length).toBe(1);
    for (let i = 0; i < 5; i++) await engine.upsert('comment', `c${i}`, { body: 'x' });
    expect(queries()).toBe(1);
    stop();
    await engine.close();
  });
});
