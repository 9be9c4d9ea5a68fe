import { quoteIdent, type Queryable } from '../db/types.ts';

/**
 * The server's tables, in their own schema so an app can share the database.
 * Timestamps are parameters from the Clock seam, never NOW(): the simulator must be able to replay them.
 */
export async function createServerSchema(db: Queryable, schema: string, newEpoch: () => string): Promise<string> {
  const s = quoteIdent(schema);
  await db.exec(`
    CREATE SCHEMA IF NOT EXISTS ${s};
    CREATE TABLE IF NOT EXISTS ${s}.meta (
      id int PRIMARY KEY CHECK (id = 1),
      version bigint NOT NULL
    );
    -- The epoch names this database in every cookie: a wiped or restored database has another one.
    ALTER TABLE ${s}.meta ADD COLUMN IF NOT EXISTS epoch text;
    INSERT INTO ${s}.meta (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
    -- One row per key; a delete leaves a tombstone (data NULL) so a re-create is an ordinary write.
    CREATE TABLE IF NOT EXISTS ${s}.entities (
      key text PRIMARY KEY,
      type text NOT NULL,
      id text NOT NULL,
      data jsonb,
      version bigint NOT NULL,
      deleted boolean NOT NULL
    );
    CREATE INDEX IF NOT EXISTS entities_type_idx ON ${s}.entities (type);
    -- Every processed mutation, failed ones too, with the global version it took and its effects:
    -- the source of truth for pull pages and for the simulator's fold.
    CREATE TABLE IF NOT EXISTS ${s}.replication_log (
      version bigint PRIMARY KEY,
      client_id text NOT NULL,
      mutation_id bigint NOT NULL,
      name text NOT NULL,
      args jsonb NOT NULL,
      effects jsonb NOT NULL,
      error text,
      created_at bigint NOT NULL,
      UNIQUE (client_id, mutation_id)
    );
    -- The last version of the commit a row belongs to (pull pages end at commit boundaries), and
    -- the encoded size of its effects (pull pages are bounded by bytes). NULL on older rows.
    ALTER TABLE ${s}.replication_log ADD COLUMN IF NOT EXISTS commit_version bigint;
    ALTER TABLE ${s}.replication_log ADD COLUMN IF NOT EXISTS bytes int;
    ALTER TABLE ${s}.entities ADD COLUMN IF NOT EXISTS bytes int;
    -- Compaction (compaction.ts): log rows at or below the horizon are folded into log_base, the
    -- state at the horizon, one row per live key; horizon_fp is the fingerprint of the dropped
    -- row at the horizon (cookies at the horizon are still checked).
    ALTER TABLE ${s}.meta ADD COLUMN IF NOT EXISTS horizon bigint NOT NULL DEFAULT 0;
    ALTER TABLE ${s}.meta ADD COLUMN IF NOT EXISTS horizon_fp text;
    CREATE TABLE IF NOT EXISTS ${s}.log_base (key text PRIMARY KEY, value jsonb NOT NULL, version bigint NOT NULL);
    CREATE TABLE IF NOT EXISTS ${s}.clients (
      client_id text PRIMARY KEY,
      client_group_id text NOT NULL,
      last_mutation_id bigint NOT NULL,
      last_modified_version bigint NOT NULL,
      updated_at bigint NOT NULL
    );
    CREATE INDEX IF NOT EXISTS clients_group_idx ON ${s}.clients (client_group_id);
    -- A push's writes in one call: the version row first (the lock order is client rows, then
    -- version, then entities), then log rows (each with its own version), the entities' last
    -- values and the clients' last mutation ids, set-based. A function, because its statements'
    -- plans are cached per session, where a parameterised statement is planned on every call.
    CREATE OR REPLACE FUNCTION ${s}.write_push(n int, log_rows json, ents json, cls json, now bigint) RETURNS bigint
    LANGUAGE plpgsql AS $fn$
    DECLARE base bigint;
    BEGIN
      UPDATE ${s}.meta SET version = version + n WHERE id = 1 RETURNING version - n INTO base;
      INSERT INTO ${s}.replication_log (version, client_id, mutation_id, name, args, effects, error, created_at, commit_version, bytes)
        SELECT base + r.ord, r.client_id, r.mutation_id, r.name, coalesce(r.args, 'null'::jsonb), r.effects, r.error, now, base + n, r.bytes
          FROM json_to_recordset(log_rows) AS r(ord int, client_id text, mutation_id bigint, name text, args jsonb, effects jsonb, error text, bytes int);
      INSERT INTO ${s}.entities AS t (key, type, id, data, version, deleted, bytes)
        SELECT e.key, split_part(e.key, '/', 1), substr(e.key, strpos(e.key, '/') + 1), e.value, base + e.ord, e.value IS NULL,
               coalesce(octet_length(e.value::text), 0)
          FROM json_to_recordset(ents) AS e(key text, value jsonb, ord int)
        ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, version = EXCLUDED.version, deleted = EXCLUDED.deleted, bytes = EXCLUDED.bytes;
      UPDATE ${s}.clients c SET last_mutation_id = x.lmid, last_modified_version = base + x.ord, updated_at = now
        FROM json_to_recordset(cls) AS x(client_id text, lmid bigint, ord int)
       WHERE c.client_id = x.client_id AND x.ord IS NOT NULL;
      RETURN base;
    END
    $fn$;
    -- A push planned outside a transaction: under the client row locks (sorted), every client
    -- must be of the group and at the last id the plan assumed; under the version lock (taken
    -- next, as the locked path does, so every writer of entities is done), every document the
    -- plan read must still be at the version it was read at (0: no row). Then the same writes
    -- as write_push. -1 and nothing written otherwise.
    CREATE OR REPLACE FUNCTION ${s}.push_fast(grp text, n int, log_rows json, ents json, cls json, now bigint, reads json) RETURNS bigint
    LANGUAGE plpgsql AS $fn$
    DECLARE ok int; want int;
    BEGIN
      want := json_array_length(cls);
      SELECT count(*) INTO ok FROM (
        SELECT 1 FROM ${s}.clients c JOIN json_to_recordset(cls) AS x(client_id text, prev bigint) ON c.client_id = x.client_id
         WHERE c.client_group_id = grp AND c.last_mutation_id = x.prev
         ORDER BY c.client_id FOR UPDATE OF c
      ) AS q;
      IF ok <> want THEN RETURN -1; END IF;
      IF reads IS NOT NULL THEN
        PERFORM 1 FROM ${s}.meta WHERE id = 1 FOR UPDATE;
        PERFORM 1 FROM json_to_recordset(reads) AS r(key text, version bigint) LEFT JOIN ${s}.entities e ON e.key = r.key
          WHERE coalesce(e.version, 0) <> r.version;
        IF FOUND THEN RETURN -1; END IF;
      END IF;
      RETURN ${s}.write_push(n, log_rows, ents, cls, now);
    END
    $fn$;
    -- The commonest push, one mutation of a known client that read nothing (an upsert, a delete,
    -- or a failure), with scalar parameters: the same checks and writes as push_fast, without
    -- the JSON record sets (about a third of the statement's cost on PGlite). -1 and nothing
    -- written when the client is not of the group or not at prev.
    CREATE OR REPLACE FUNCTION ${s}.push_one(grp text, cid text, prev bigint, mid bigint, mname text, margs jsonb, eff jsonb, err text,
                                             now bigint, nbytes int, ekey text, evalue jsonb) RETURNS bigint
    LANGUAGE plpgsql AS $fn$
    DECLARE v bigint;
    BEGIN
      PERFORM 1 FROM ${s}.clients WHERE client_id = cid AND client_group_id = grp AND last_mutation_id = prev FOR UPDATE;
      IF NOT FOUND THEN RETURN -1; END IF;
      UPDATE ${s}.meta SET version = version + 1 WHERE id = 1 RETURNING version INTO v;
      INSERT INTO ${s}.replication_log (version, client_id, mutation_id, name, args, effects, error, created_at, commit_version, bytes)
        VALUES (v, cid, mid, mname, coalesce(margs, 'null'::jsonb), eff, err, now, v, nbytes);
      IF ekey IS NOT NULL THEN
        INSERT INTO ${s}.entities AS t (key, type, id, data, version, deleted, bytes)
          VALUES (ekey, split_part(ekey, '/', 1), substr(ekey, strpos(ekey, '/') + 1), evalue, v, evalue IS NULL, coalesce(octet_length(evalue::text), 0))
          ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, version = EXCLUDED.version, deleted = EXCLUDED.deleted, bytes = EXCLUDED.bytes;
      END IF;
      UPDATE ${s}.clients SET last_mutation_id = mid, last_modified_version = v, updated_at = now WHERE client_id = cid;
      RETURN v;
    END
    $fn$;
  `);
  await db.query(`UPDATE ${s}.meta SET epoch = $1 WHERE id = 1 AND epoch IS NULL`, [newEpoch()]);
  const r = await db.query<{ epoch: string }>(`SELECT epoch FROM ${s}.meta WHERE id = 1`);
  return r.rows[0]!.epoch;
}
