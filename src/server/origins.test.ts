/**
 * Exactly once across identity changes: a mutation re-queued under a new client id (after
 * ClientStateNotFound, or a move to a new client group) carries its earlier identities as
 * `origins`. The server skips it when an origin was already processed in this database, and
 * otherwise applies it and fences the origins, so a late push of the earlier copy is skipped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../db/types.ts';
import type { Mutation, PullResponseOK, PushResponseOK } from '../protocol/index.ts';
import { maxOriginClientsPerPush, maxOriginsPerMutation } from '../protocol/index.ts';
import { storeKinds, uniqueSchema } from '../../test/support/stores.ts';
import { handlePull, handlePush, ServerDatabase } from './index.ts';
import { resolveLimits, type ServerLimits } from './limits.ts';
// The one-transaction-per-mutation path the planted bugs build on: it must honour origins too.
import { PerMutationServer } from '../sim/bugs/per-mutation-push.ts';

const clock = { now: () => 1_700_000_000_000 };
type M = Partial<Mutation> & { clientID: string; id: number };
const push = (clientGroupID: string, mutations: M[]) => ({
  pushVersion: 1, clientGroupID, profileID: 'p', schemaVersion: '1',
  mutations: mutations.map((m) => ({ timestamp: 1, name: 'increment', args: { type: 'tally', id: 't', field: 'n', by: 1 }, ...m })),
});
const up = (clientID: string, id: number, n: number, origins?: { clientID: string; id: number }[]): M => ({
  clientID, id, name: 'upsert', args: { type: 'doc', id: 'd', data: { n } }, ...(origins ? { origins } : {}),
});
const pull = (clientGroupID: string) => ({ pullVersion: 1, clientGroupID, cookie: null, profileID: 'p', schemaVersion: '1' });


for (const kind of storeKinds) {
  for (const path of ['batch', 'per-mutation'] as const) {
    describe(`origins on ${kind.name}, ${path} path`, () => {
      let db: Db;
      const schemas: string[] = [];
      beforeAll(async () => {
        db = await kind.open();
      });
      afterAll(async () => {
        if (kind.name === 'postgres') for (const s of schemas) await db.exec(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
        await db.close();
      });
      async function fresh(limits?: Partial<ServerLimits>) {
        const schema = uniqueSchema('orig');
        schemas.push(schema);
        return path === 'batch' ? ServerDatabase.open(db, { clock, schema, limits }) : PerMutationServer.open(db, { clock, schema, limits });
      }
      const ok = async (server: ServerDatabase, group: string, ms: M[]) => {
        const r = await handlePush(server, push(group, ms));
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        return r.body as PushResponseOK;
      };
      const tally = async (server: ServerDatabase) => (await server.readEntities()).get('tally/t')?.n;
      const lmid = async (server: ServerDatabase, clientID: string) => (await server.readClients()).find((c) => c.clientID === clientID)?.lastMutationID;

      it('skips a re-queued copy whose origin this database already applied (restore, lost answer)', async () => {
        const server = await fresh();
        await ok(server, 'g', [{ clientID: 'c1', id: 1 }]);
        // The client started over as c2 and re-sends c1#1 as c2#1.
        const body = await ok(server, 'g', [{ clientID: 'c2', id: 1, origins: [{ clientID: 'c1', id: 1 }] }]);
        expect(await tally(server)).toBe(1);
        if (path === 'batch') expect(body).toEqual({ lastMutationIDs: { c2: 1 } }); // not failed, and no origin's id
        expect(await lmid(server, 'c2')).toBe(1);
        const log = await server.readLog();
        expect(log.map((e) => [e.clientID, e.mutationID, e.effects.length, e.error])).toEqual([
          ['c1', 1, 1, null],
          ['c2', 1, 0, 'duplicate: already processed as c1#1'],
        ]);
        // Retried: an ordinary skip.
        await ok(server, 'g', [{ clientID: 'c2', id: 1, origins: [{ clientID: 'c1', id: 1 }] }]);
        expect(await server.version()).toBe(2);
      });

      it('applies a copy whose origins are unknown and fences them: the late original is skipped (storage loss)', async () => {
        const server = await fresh();
        await ok(server, 'g', [{ clientID: 'c2', id: 1, origins: [{ clientID: 'c0', id: 4 }, { clientID: 'c1', id: 2 }] }]);
        expect(await tally(server)).toBe(1);
        expect(await lmid(server, 'c1')).toBe(2);
        expect(await lmid(server, 'c0')).toBe(4);
        // The old in-flight push arrives late: c1#1..2 are known now, c1#3 is new.
        const body = await ok(server, 'g', [{ clientID: 'c1', id: 1 }, { clientID: 'c1', id: 2 }, { clientID: 'c1', id: 3, args: { type: 'tally', id: 't', field: 'n', by: 10 } }]);
        expect(await tally(server)).toBe(11);
        if (path === 'batch') expect(body.lastMutationIDs).toEqual({ c1: 3 });
      });

      it('a moved client: the copy in the new group is skipped or applied by the old group\'s rows, and fences them', async () => {
        const server = await fresh();
        await ok(server, 'g1', [{ clientID: 'old', id: 1 }]);
        // old#1 was applied (its answer lost), old#2 never arrived; the client moves to g2 as new.
        await ok(server, 'g2', [
          { clientID: 'new', id: 1, origins: [{ clientID: 'old', id: 1 }] },
          { clientID: 'new', id: 2, args: { type: 'tally', id: 't', field: 'n', by: 5 }, origins: [{ clientID: 'old', id: 2 }] },
        ]);
        expect(await tally(server)).toBe(6);
        expect(await lmid(server, 'old')).toBe(2);
        // The old group's late push of old#2 is a skip, not a second application.
        const late = await ok(server, 'g1', [{ clientID: 'old', id: 2, args: { type: 'tally', id: 't', field: 'n', by: 5 } }]);
        expect(await tally(server)).toBe(6);
        if (path === 'batch') expect(late.lastMutationIDs).toEqual({ old: 2 });
        // Neither group learns the other's client ids from a pull.
        const p2 = (await handlePull(server, pull('g2'))).body as PullResponseOK;
        expect(Object.keys(p2.lastMutationIDChanges)).toEqual(['new']);
        const p1 = (await handlePull(server, pull('g1'))).body as PullResponseOK;
        expect(Object.keys(p1.lastMutationIDChanges)).toEqual(['old']);
      });

      it('an origin the pushing client group cannot own is still only fenced, never pushed as', async () => {
        const server = await fresh();
        await ok(server, 'g1', [{ clientID: 'a', id: 1 }]);
        // g2 may name a's id as an origin (it would need to know it), but not push as a.
        const r = await handlePush(server, push('g2', [{ clientID: 'a', id: 2 }]));
        expect(r.status).toBe(403);
        expect(await lmid(server, 'a')).toBe(1);
      });

      it('several copies in one push: each sees the fences of those before it', async () => {
        const server = await fresh();
        await ok(server, 'g', [{ clientID: 'c1', id: 1 }]);
        await ok(server, 'g', [
          { clientID: 'c2', id: 1, origins: [{ clientID: 'c1', id: 1 }] },
          { clientID: 'c2', id: 2, origins: [{ clientID: 'c1', id: 2 }] },
          // A copy of c2#2 re-queued again (c3) in the same push: already processed.
          { clientID: 'c3', id: 1, origins: [{ clientID: 'c1', id: 2 }, { clientID: 'c2', id: 2 }] },
        ]);
        expect(await tally(server)).toBe(2);
        expect(await lmid(server, 'c1')).toBe(2);
        expect((await server.readLog()).map((e) => e.error === null)).toEqual([true, false, true, false]);
      });

      it('the fast path (mutators that read nothing) honours origins', async () => {
        const server = await fresh();
        await ok(server, 'g', [up('c1', 1, 1)]);
        await ok(server, 'g', [up('c2', 1, 2)]);
        // c2 is known and at 1: without the origin this push would take the fast path and apply.
        await ok(server, 'g', [up('c2', 2, 1, [{ clientID: 'c1', id: 1 }])]);
        await ok(server, 'g', [up('c2', 3, 3, [{ clientID: 'c1', id: 2 }])]);
        expect((await server.readEntities()).get('doc/d')).toEqual({ n: 3 });
        expect((await server.readLog()).map((e) => e.error === null)).toEqual([true, true, false, true]);
        expect(await lmid(server, 'c1')).toBe(2);
      });

      it('refuses too many origins with a clear 400 and writes nothing', async () => {
        const server = await fresh();
        const many = Array.from({ length: maxOriginsPerMutation + 1 }, (_, i) => ({ clientID: `o${i}`, id: 1 }));
        const r1 = await handlePush(server, push('g', [{ clientID: 'c', id: 1, origins: many }]));
        expect(r1.status).toBe(400);
        expect(JSON.stringify(r1.body)).toContain('maxOriginsPerMutation');
        const spread = Array.from({ length: 9 }, (_, j) => ({
          clientID: 'c', id: j + 1, origins: Array.from({ length: 8 }, (_, i) => ({ clientID: `o${j}-${i}`, id: 1 })),
        }));
        expect(9 * 8).toBeGreaterThan(maxOriginClientsPerPush);
        const r2 = await handlePush(server, push('g', spread));
        expect(r2.status).toBe(400);
        expect(JSON.stringify(r2.body)).toContain('maxOriginClientsPerPush');
        const r3 = await handlePush(server, push('g', [{ clientID: 'c', id: 1, origins: [{ clientID: 'x', id: 0 }] }]));
        expect(r3.status).toBe(400);
        expect(await server.version()).toBe(0);
        expect(await server.readClients()).toEqual([]);
      });

      it('takes its origin limits from the server options', async () => {
        const server = await fresh({ maxOriginsPerMutation: 2, maxOriginClientsPerPush: 3 });
        const r1 = await handlePush(server, push('g', [up('c', 1, 1, [{ clientID: 'o1', id: 1 }, { clientID: 'o2', id: 1 }, { clientID: 'o3', id: 1 }])]));
        expect(r1.status).toBe(400);
        expect(JSON.stringify(r1.body)).toContain('has 3 origins, over the limit of 2 (maxOriginsPerMutation)');
        const r2 = await handlePush(server, push('g', [up('c', 1, 1, [{ clientID: 'o1', id: 1 }, { clientID: 'o2', id: 1 }]), up('c', 2, 2, [{ clientID: 'o3', id: 1 }, { clientID: 'o4', id: 1 }])]));
        expect(r2.status).toBe(400);
        expect(JSON.stringify(r2.body)).toContain('name 4 client ids, over the limit of 3 (maxOriginClientsPerPush)');
        expect(await server.version()).toBe(0);
        // Raised past the protocol's defaults: 9 origins on one mutation are accepted.
        const roomy = await fresh({ maxOriginsPerMutation: 16 });
        const nine = Array.from({ length: 9 }, (_, i) => ({ clientID: `o${i}`, id: 1 }));
        expect((await handlePush(roomy, push('g', [up('c', 1, 1, nine)]))).status).toBe(200);
        expect(() => resolveLimits({ maxOriginsPerMutation: 0 })).toThrow(/maxOriginsPerMutation must be a positive integer/);
      });
    });
  }
}

/** Two pushes naming each other's clients as origins, concurrently on PostgreSQL: sorted locks, no deadlock. */
for (const kind of storeKinds.filter((k) => k.name === 'postgres')) {
  describe(`origins under concurrency on ${kind.name}`, () => {
    it('crossed origins do not deadlock and apply each mutation once', async () => {
      const db = await kind.open();
      const schema = uniqueSchema('origc');
      try {
        const server = await ServerDatabase.open(db, { clock, schema });
        const rounds = 20;
        // Each client pushes its ids in order; the two run concurrently, each naming the other.
        const run = async (me: string, other: string) => {
          for (let i = 1; i <= rounds; i++) {
            const r = await handlePush(server, push('g', [{ clientID: me, id: i, origins: [{ clientID: other, id: i }] }]));
            expect(r.status, JSON.stringify(r.body)).toBe(200);
          }
        };
        await Promise.all([run('a', 'b'), run('b', 'a')]);
        // Round i is one mutation under two identities: whichever came first applied it.
        const applied = (await server.readLog()).filter((e) => e.error === null).length;
        expect(applied).toBe(rounds);
      } finally {
        await db.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await db.close();
      }
    });
  });
}

