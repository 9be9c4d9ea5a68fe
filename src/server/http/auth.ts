import { createHash, timingSafeEqual } from 'node:crypto';
import { quoteIdent, type Db } from '../../db/types.ts';
import type { Ids } from '../../seams/index.ts';

const hash = (token: string) => createHash('sha256').update(token).digest('hex');

/** Why a registration was refused. */
export type RegisterRefusal = 'group-bound' | 'token-in-use';
export type RegisterResult = { ok: true; token: string } | { ok: false; reason: RegisterRefusal };

/**
 * Client-group tokens: a group is bound to the token of its first registration. Only the hash is
 * stored, so a leaked table does not leak tokens. Registration is idempotent when the client
 * proposes its token: registering a group again with the token it is bound to succeeds again (the
 * answer to the first was lost, or the request was duplicated), another token is refused.
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

  /**
   * Binds a client group to `proposed` (or, when the client proposes none, to a token issued
   * here). Nothing is written when refused: the group is bound to another token, or the
   * proposed token already belongs to another group.
   */
  async register(clientGroupID: string, proposed?: string): Promise<RegisterResult> {
    const token = proposed ?? this.ids.newId('tok');
    const h = hash(token);
    // No conflict target: a token hash taken by another group is refused too, not an error.
    const r = await this.db.query(
      `INSERT INTO ${this.table} (client_group_id, token_hash) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING client_group_id`,
      [clientGroupID, h],
    );
    if (r.rows.length) return { ok: true, token };
    const bound = await this.db.query<{ token_hash: string }>(`SELECT token_hash FROM ${this.table} WHERE client_group_id = $1`, [clientGroupID]);
    const boundHash = bound.rows[0]?.token_hash;
    if (boundHash === undefined) return { ok: false, reason: 'token-in-use' };
    // A server-issued token is fresh, so a bound group can only match a proposed one.
    if (proposed !== undefined && sameHash(boundHash, h)) return { ok: true, token };
    return { ok: false, reason: 'group-bound' };
  }

  /** The client group a token belongs to, if any. */
  async groupOf(token: string): Promise<string | undefined> {
    const r = await this.db.query<{ client_group_id: string }>(`SELECT client_group_id FROM ${this.table} WHERE token_hash = $1`, [hash(token)]);
    return r.rows[0]?.client_group_id;
  }
}

/** Constant-time comparison of two hex sha256 digests (no timing hint of how much matched). */
function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}
