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
    CREATE TABLE IF NOT EXISTS ${s}.clients (
      client_id text PRIMARY KEY,
      client_group_id text NOT NULL,
      last_mutation_id bigint NOT NULL,
      last_modified_version bigint NOT NULL,
      updated_at bigint NOT NULL
    );
    CREATE INDEX IF NOT EXISTS clients_group_idx ON ${s}.clients (client_group_id);
  `);
  await db.query(`UPDATE ${s}.meta SET epoch = $1 WHERE id = 1 AND epoch IS NULL`, [newEpoch()]);
  const r = await db.query<{ epoch: string }>(`SELECT epoch FROM ${s}.meta WHERE id = 1`);
  return r.rows[0]!.epoch;
}
