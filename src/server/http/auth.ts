import { createHash } from 'node:crypto';
import { quoteIdent, type Db } from '../../db/types.ts';
import type { Ids } from '../../seams/index.ts';

const hash = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * Client-group tokens: a group is bound to the token issued when it first registers. Only the
 * hash is stored, so a leaked table does not leak tokens.
 */
export class AuthStore {
  private readonly db: Db;
  private readonly ids: Ids;
  /** The quoted `schema.auth` table name. */
  private readonly table: string;

  private constructor(db: Db, ids: Ids, table: string) {
    this.db = db;
    this.ids = ids;
    this.table = table;
  }

  /** `schema` (default 'lockstep') holds the auth table, so that several servers can share one database. */
  static async open(db: Db, ids: Ids, options: { schema?: string } = {}): Promise<AuthStore> {
    const s = quoteIdent(options.schema ?? 'lockstep');
    await db.exec(`CREATE SCHEMA IF NOT EXISTS ${s};
      CREATE TABLE IF NOT EXISTS ${s}.auth (client_group_id text PRIMARY KEY, token_hash text NOT NULL UNIQUE)`);
    return new AuthStore(db, ids, `${s}.auth`);
  }

  /** Issues a token for a new client group; undefined if the group is already bound to another token. */
  async register(clientGroupID: string): Promise<string | undefined> {
    const token = this.ids.newId('tok');
    const r = await this.db.query(
      `INSERT INTO ${this.table} (client_group_id, token_hash) VALUES ($1, $2) ON CONFLICT (client_group_id) DO NOTHING RETURNING client_group_id`,
      [clientGroupID, hash(token)],
    );
    return r.rows.length ? token : undefined;
  }

  /** The client group a token belongs to, if any. */
  async groupOf(token: string): Promise<string | undefined> {
    const r = await this.db.query<{ client_group_id: string }>(`SELECT client_group_id FROM ${this.table} WHERE token_hash = $1`, [hash(token)]);
    return r.rows[0]?.client_group_id;
  }
}
