/**
 * A pull whose cookie is at the server's version is answered from one statement, without a
 * transaction (most pulls of a polling client); a pull with something to send, a stale cookie or
 * a staged bootstrap still goes through the snapshot, without that check when this instance
 * committed past the cookie.
 */
import { describe, expect, it } from 'vitest';
import type { Db } from '../db/types.ts';
import type { PullResponseOK } from '../protocol/index.ts';
import { storeKinds, useStore } from '../../test/support/stores.ts';
import { handlePull, handlePush, ServerDatabase } from './index.ts';

const clock = { now: () => 1_700_000_000_000 };

/** Counts statements and transactions at the Db seam. */
function counting(db: Db) {
  const n = { statements: 0, transactions: 0 };
  const out: Db = {
    dialect: db.dialect,
    query: (sql, params) => (n.statements++, db.query(sql, params)),
    exec: (sql) => (n.statements++, db.exec(sql)),
    transaction: (fn, o) => (n.transactions++, db.transaction(fn, o)),
    close: () => db.close(),
  };
  return { db: out, n };
}

for (const kind of storeKinds) {
  describe(`an up-to-date pull on ${kind.name}`, () => {
    const store = useStore(kind);

    it('is one statement without a transaction, and the same answer the snapshot gives', async () => {
      const { db, n } = counting(store.db);
      const s = await ServerDatabase.open(db, { clock, schema: store.schema('utd') });
      const pull = async (cookie: unknown) => {
        const r = await handlePull(s, { pullVersion: 1, clientGroupID: 'g', cookie, profileID: 'p', schemaVersion: '1' });
        expect(r.status).toBe(200);
        return r.body as PullResponseOK;
      };
      await handlePush(s, { pushVersion: 1, clientGroupID: 'g', profileID: 'p', schemaVersion: '1', mutations: [{ clientID: 'c', id: 1, name: 'upsert', timestamp: 1, args: { type: 't', id: 'a', data: { v: 1 } } }] });
      const first = await pull(null);
      Object.assign(n, { statements: 0, transactions: 0 });
      const again = await pull(first.cookie);
      expect(n).toEqual({ statements: 1, transactions: 0 });
      expect(again).toEqual({ cookie: first.cookie, lastMutationIDChanges: {}, patch: [], more: false });
      // Behind: the page comes from the snapshot, as before.
      await handlePush(s, { pushVersion: 1, clientGroupID: 'g', profileID: 'p', schemaVersion: '1', mutations: [{ clientID: 'c', id: 2, name: 'upsert', timestamp: 1, args: { type: 't', id: 'a', data: { v: 2 } } }] });
      Object.assign(n, { statements: 0, transactions: 0 });
      const page = await pull(first.cookie);
      // This instance committed past the cookie: straight to the snapshot, no check before it.
      expect(n).toEqual({ statements: 0, transactions: 1 });
      expect(page.patch).toEqual([{ op: 'put', key: 't/a', value: { v: 2 } }]);
      expect(page.lastMutationIDChanges).toEqual({ c: 2 });
      // A cookie this database does not know still answers ClientStateNotFound.
      const r = await handlePull(s, { pullVersion: 1, clientGroupID: 'g', cookie: { order: 1, epoch: 'other' }, profileID: 'p', schemaVersion: '1' });
      expect(r.body).toEqual({ error: 'ClientStateNotFound' });
      const fp = await handlePull(s, { pullVersion: 1, clientGroupID: 'g', cookie: { ...(page.cookie as object), fp: 'ffff' }, profileID: 'p', schemaVersion: '1' });
      expect(fp.body).toEqual({ error: 'ClientStateNotFound' });
    });
  });
}
