import { createHash } from 'node:crypto';
import type { Db } from '../../db/types.ts';
import type { Ids } from '../../seams/index.ts';

const hash = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * Client-group tokens: a group is bound to the token issued when it first registers. Only the
 * hash is stored, so a leaked table does not leak tokens.
 */
export class AuthStore {
  private readonly db: Db;
  private readonly ids: Ids;

  private constructor(db: Db, ids: Ids) {
    this.db = db;
    this.ids = ids;
  }

  static async open(db: Db, ids: Ids): Promise<AuthStore> {
    await db.exec(`CREATE SCHEMA IF NOT EXISTS lockstep;
      CREATE TABLE IF NOT EXISTS lockstep.auth (client_group_id text PRIMARY KEY, token_hash text NOT NULL UNIQUE)`);
    return new AuthStore(db, ids);
  }

  /** Issues a token for a new client group; undefined if the group is already bound to another token. */
  async register(clientGroupID: string): Promise<string | undefined> {
    const token = this.ids.newId('tok');
    const r = await this.db.query(
      `INSERT INTO lockstep.auth (client_group_id, token_hash) VALUES ($1, $2) ON CONFLICT (client_group_id) DO NOTHING RETURNING client_group_id`,
      [clientGroupID, hash(token)],
    );
    return r.rows.length ? token : undefined;
  }

  /** The client group a token belongs to, if any. */
  async groupOf(token: string): Promise<string | undefined> {
    const r = await this.db.query<{ client_group_id: string }>(`SELECT client_group_id FROM lockstep.auth WHERE token_hash = $1`, [hash(token)]);
    return r.rows[0]?.client_group_id;
  }
}
