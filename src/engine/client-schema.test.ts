/** The relations a client schema costs: in a shared instance (the simulator's) each is files and cache entries per client. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PGliteDb } from '../db/pglite.ts';
import { createRegistry } from '../protocol/index.ts';
import { uniqueSchema } from '../../test/support/stores.ts';
import { ClientDatabase } from './client-database.ts';

let db: PGliteDb;
beforeAll(async () => {
  db = await PGliteDb.open();
});
afterAll(async () => {
  await db.close();
});

async function relations(schema: string): Promise<{ table: string; toast: boolean }[]> {
  const r = await db.query<{ table: string; toast: boolean }>(
    `SELECT c.relname AS table, c.reltoastrelid <> 0 AS toast FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY 1`,
    [schema],
  );
  return r.rows;
}

describe('client schema', () => {
  it('gives the one-row table (meta) no TOAST table, and keeps one where documents may be large', async () => {
    const schema = uniqueSchema('relations');
    await new ClientDatabase(db, schema, createRegistry()).open(() => ({ clientID: 'c1', clientGroupID: 'g1' }));
    expect(await relations(schema)).toEqual([
      { table: 'meta', toast: false },
      { table: 'pending', toast: true },
      { table: 'snapshot', toast: true },
      { table: 'staged', toast: true },
      { table: 'visible', toast: true },
    ]);
    // Every relation of a client schema: tables, their indexes and TOAST (was 21 with the stage table and the index on type).
    const all = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_class c WHERE c.relnamespace = $1::regnamespace
          OR c.oid IN (SELECT reltoastrelid FROM pg_class WHERE relnamespace = $1::regnamespace)
          OR c.oid IN (SELECT i.indexrelid FROM pg_index i JOIN pg_class t ON t.reltoastrelid = i.indrelid WHERE t.relnamespace = $1::regnamespace)`,
      [schema],
    );
    expect(all.rows[0]!.n).toBe(18);
  });

  it('opens a store with the stage table and the index on type of before: the staged cookie moves into meta, both are dropped', async () => {
    const schema = uniqueSchema('stagetable');
    const store = new ClientDatabase(db, schema, createRegistry());
    await store.open(() => ({ clientID: 'c1', clientGroupID: 'g1' }));
    await db.exec(`CREATE TABLE "${schema}".stage (id int PRIMARY KEY CHECK (id = 1), client_id text NOT NULL, cookie jsonb NOT NULL);
      INSERT INTO "${schema}".stage VALUES (1, 'c1', '{"order": 4, "stage": "s1"}');
      CREATE INDEX visible_type_idx ON "${schema}".visible (type);`);
    const reopened = new ClientDatabase(db, schema, createRegistry());
    await reopened.open(() => ({ clientID: 'x', clientGroupID: 'x' }));
    expect(await reopened.readMetaAndStage()).toMatchObject({ stageClientID: 'c1', stage: { order: 4, stage: 's1' } });
    const left = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = $1::regnamespace AND relname IN ('stage', 'visible_type_idx')`, [schema]);
    expect(left.rows[0]!.n).toBe(0);
  });

  it('answers a query by type with exactly that type, whatever the keys around its prefix', async () => {
    const schema = uniqueSchema('bytype');
    const store = new ClientDatabase(db, schema, createRegistry());
    await store.open(() => ({ clientID: 'c1', clientGroupID: 'g1' }));
    for (const [type, id] of [['doc', 'a'], ['doc', 'b'], ['do', 'c'], ['doc0', 'x'], ['docs', 'y'], ['doc.', 'z']] as const) {
      await store.mutate('upsert', { type, id, data: { type, id } }, 1);
    }
    expect((await store.query({ type: 'doc' })).map((r) => r.key)).toEqual(['doc/a', 'doc/b']);
    expect((await store.query({ type: 'do' })).map((r) => r.key)).toEqual(['do/c']);
  });

  it('opens a store made before meta.cookie_epoch, meta.cookie_fp and pending.origins existed (they are added)', async () => {
    const schema = uniqueSchema('older');
    await db.exec(`CREATE SCHEMA "${schema}";
      CREATE TABLE "${schema}".meta (id int PRIMARY KEY CHECK (id = 1), client_id text NOT NULL, client_group_id text NOT NULL, cookie bigint, next_mutation_id bigint NOT NULL, last_mutation_id bigint NOT NULL);
      INSERT INTO "${schema}".meta VALUES (1, 'c0', 'g0', 7, 3, 2);
      CREATE TABLE "${schema}".pending (mutation_id bigint PRIMARY KEY, name text NOT NULL, args jsonb NOT NULL, timestamp double precision NOT NULL);`);
    const store = new ClientDatabase(db, schema, createRegistry());
    const meta = await store.open(() => ({ clientID: 'new', clientGroupID: 'new' }));
    expect(meta).toMatchObject({ clientID: 'c0', clientGroupID: 'g0', cookie: 7, epoch: null, fp: null, nextMutationID: 3, lastMutationID: 2 });
    const cols = await db.query<{ c: string }>(`SELECT table_name || '.' || column_name AS c FROM information_schema.columns WHERE table_schema = $1 AND column_name IN ('cookie_epoch', 'cookie_fp', 'origins') ORDER BY 1`, [schema]);
    expect(cols.rows.map((r) => r.c)).toEqual(['meta.cookie_epoch', 'meta.cookie_fp', 'pending.origins']);
  });
});

describe('shared client functions', () => {
  it('writes each client into its own schema when clients of one instance take turns (one set of functions for all)', async () => {
    const callerPath = (await db.query<{ p: string }>(`SELECT current_setting('search_path') AS p`)).rows[0]!.p;
    const schemas = [uniqueSchema('turn'), uniqueSchema('turn')];
    const stores = schemas.map((s) => new ClientDatabase(db, s, createRegistry()));
    for (const [i, st] of stores.entries()) await st.open(() => ({ clientID: `c${i}`, clientGroupID: `g${i}` }));
    // Alternating calls: a plan cached for one schema must not write into the other.
    for (let round = 0; round < 3; round++) {
      for (const [i, st] of stores.entries()) await st.mutate('upsert', { type: 'doc', id: `r${round}`, data: { by: i } }, round);
    }
    for (const [i, st] of stores.entries()) {
      expect([...(await st.visibleMap()).entries()]).toEqual([0, 1, 2].map((r) => [`doc/r${r}`, { by: i }]));
      expect((await st.pendingMutations()).map((m) => `${m.clientID}/${m.id}`)).toEqual([`c${i}/1`, `c${i}/2`, `c${i}/3`]);
    }
    const perSchema = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ANY($1)`, [schemas]);
    expect(perSchema.rows[0]!.n).toBe(0);
    // The caller's search_path is as it was.
    expect((await db.query<{ p: string }>(`SELECT current_setting('search_path') AS p`)).rows[0]!.p).toBe(callerPath);
  });

  it('drops the functions a store made in its own schema before they were shared, and keeps writing', async () => {
    const schema = uniqueSchema('ownfns');
    const store = new ClientDatabase(db, schema, createRegistry());
    await store.open(() => ({ clientID: 'c1', clientGroupID: 'g1' }));
    await db.exec(`CREATE FUNCTION "${schema}".queue_and_apply(mid bigint, cid text, mname text, margs jsonb, ts double precision, orig jsonb, puts json, dels json, reads json) RETURNS void LANGUAGE sql AS 'SELECT 1';
      CREATE FUNCTION "${schema}".queue_and_apply_batch(first_mid bigint, n int, cid text, muts json, puts json, dels json, reads json) RETURNS void LANGUAGE sql AS 'SELECT 1';`);
    const reopened = new ClientDatabase(db, schema, createRegistry());
    await reopened.open(() => ({ clientID: 'x', clientGroupID: 'x' }));
    const left = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1`, [schema]);
    expect(left.rows[0]!.n).toBe(0);
    await reopened.mutate('upsert', { type: 'doc', id: 'a', data: { v: 1 } }, 1);
    expect(await reopened.visibleMap()).toEqual(new Map([['doc/a', { v: 1 }]]));
  });
});
