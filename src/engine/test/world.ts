import { PGliteDb } from '../../db/pglite.ts';
import type { Db, Queryable, TransactionOptions } from '../../db/types.ts';
import type { PullRequest, PushRequest, PushResponseOK } from '../../protocol/index.ts';
import { handlePull, handlePush, localTransport, ServerDatabase } from '../../server/index.ts';
import type { Transport } from '../../seams/index.ts';
import { uniqueSchema } from '../../../test/support/stores.ts';
import { PersistentSyncEngine, type EngineOptions } from '../index.ts';

/** Test worlds for the engine: real ServerDatabases in their own schemas, clients over an in-process transport. */
export async function openDbs(): Promise<{ clientDb: PGliteDb; serverDb: PGliteDb; close(): Promise<void> }> {
  const [clientDb, serverDb] = await Promise.all([PGliteDb.open(), PGliteDb.open()]);
  return { clientDb, serverDb, close: async () => void (await Promise.all([clientDb.close(), serverDb.close()])) };
}

let idSeq = 0;
export const ids = { newId: (p: string) => `${p}${++idSeq}` };
export const clock = { now: () => 1_000 };

export async function openServer(serverDb: PGliteDb, options: { pageSize?: number; schema?: string } = {}): Promise<ServerDatabase> {
  return ServerDatabase.open(serverDb, { clock, schema: options.schema ?? uniqueSchema('srv'), ids, pageSize: options.pageSize });
}

/** A transport to whichever server `target()` names now, through the handlers (JSON round trip), with hooks to observe or alter requests. */
export function switchableTransport(
  target: () => ServerDatabase,
  hooks: {
    push?: (req: PushRequest, send: (req: PushRequest) => Promise<PushResponseOK>) => Promise<PushResponseOK>;
    pull?: (req: PullRequest) => void | Promise<void>;
    online?: () => boolean;
  } = {},
): Transport {
  const inner = localTransport({ handlePush: (b) => handlePush(target(), b), handlePull: (b) => handlePull(target(), b) }, { online: hooks.online });
  return {
    push: (req) => (hooks.push ? hooks.push(req, (r) => inner.push(r)) : inner.push(req)),
    async pull(req) {
      await hooks.pull?.(req);
      return inner.pull(req);
    },
  };
}

export async function openClient(clientDb: PGliteDb, transport: Transport, options: Partial<EngineOptions> = {}): Promise<PersistentSyncEngine> {
  return PersistentSyncEngine.open({ db: clientDb, schema: uniqueSchema('cl'), transport, ids, clock, ...options });
}

/** A backup restored elsewhere: every table of `from` copied (structure and rows) into a new schema. */
export async function copyServerSchema(serverDb: PGliteDb, from: ServerDatabase): Promise<ServerDatabase> {
  const to = uniqueSchema('restored');
  const q = (n: string) => `"${n.replaceAll('"', '""')}"`;
  const tables = await serverDb.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, [from.schema]);
  await serverDb.query(`CREATE SCHEMA ${q(to)}`);
  for (const { table_name: t } of tables.rows) {
    await serverDb.query(`CREATE TABLE ${q(to)}.${q(t)} (LIKE ${q(from.schema)}.${q(t)} INCLUDING ALL)`);
    await serverDb.query(`INSERT INTO ${q(to)}.${q(t)} SELECT * FROM ${q(from.schema)}.${q(t)}`);
  }
  return openServer(serverDb, { schema: to });
}

/**
 * A client Db (closing it closes nothing) with every statement counted (a transaction's BEGIN and
 * COMMIT count) and, while `n.on`, written down in `n.log` ('BEGIN' for each transaction).
 */
export function countingDb(inner: Db): { db: Db; n: { statements: number; on: boolean; log: string[] } } {
  const n = { statements: 0, on: false, log: [] as string[] };
  const note = (sql: string) => {
    n.statements++;
    if (n.on) n.log.push(sql.replace(/\s+/g, ' '));
  };
  const wrap = (q: Queryable): Queryable => ({
    query: (sql, params) => (note(sql), q.query(sql, params)),
    exec: (sql) => (note(sql), q.exec(sql)),
  });
  const transaction: Db['transaction'] = (fn, o?: TransactionOptions) => {
    n.statements += 2;
    if (n.on) n.log.push('BEGIN');
    return inner.transaction((tx) => fn(wrap(tx)), o);
  };
  return { db: { dialect: inner.dialect, ...wrap(inner), transaction, close: async () => {} }, n };
}
