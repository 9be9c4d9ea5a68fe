/**
 * The `label` app mutator (refused-label.ts) reaches the server's fallback for data PostgreSQL
 * refuses: its refusal quotes a NUL, the push's one transaction fails (SQLSTATE 22), and
 * ServerDatabase.pushOneByOne records that mutation as failed while the rest of the push applies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PGliteDb } from '../db/pglite.ts';
import { handlePush, ServerDatabase } from '../server/index.ts';
import { uniqueSchema } from '../../test/support/stores.ts';
import { labelMutators } from './refused-label.ts';

let db: PGliteDb;
beforeAll(async () => {
  db = await PGliteDb.open();
});
afterAll(async () => {
  await db.close();
});

const clock = { now: () => 1_000 };
const push = (mutations: { id: number; name: string; args: unknown }[]) => ({
  pushVersion: 1, clientGroupID: 'g', profileID: 'p', schemaVersion: '1', mutations: mutations.map((m) => ({ clientID: 'c', timestamp: 1, ...m })),
});
const up = (id: number, body: string) => ({ id, name: 'upsert', args: { type: 'comment', id: 'c0', data: { body } } });
const label = (id: number, code: number) => ({ id, name: 'label', args: { type: 'comment', id: 'c0', code } });

describe('a label the server refuses, quoting a NUL', () => {
  it('is recorded as failed by the one-by-one fallback; the rest of its push applies', async () => {
    const server = await ServerDatabase.open(db, { clock, schema: uniqueSchema('label'), mutators: labelMutators });
    const r = await handlePush(server, push([up(1, 'a'), label(2, 0), up(3, 'b'), label(4, 65)]));
    expect(r.status).toBe(200);
    const body = r.body as { lastMutationIDs: Record<string, number>; failed: { id: number; error: string }[] };
    expect(body.lastMutationIDs).toEqual({ c: 4 });
    expect(body.failed.map((f) => f.id)).toEqual([2]);
    expect(body.failed[0]!.error).toMatch(/^refused by the database: /);
    const log = await server.readLog();
    expect(log.map((e) => [e.mutationID, e.error === null])).toEqual([[1, true], [2, false], [3, true], [4, true]]);
    expect((await server.readEntities()).get('comment/c0')).toEqual({ body: 'b', label: 65 });
  });

  it('a reserved label without a NUL is an ordinary failure, in the same transaction', async () => {
    const server = await ServerDatabase.open(db, { clock, schema: uniqueSchema('label'), mutators: labelMutators });
    const r = await handlePush(server, push([up(1, 'a'), label(2, 7)]));
    expect((r.body as { failed: { error: string }[] }).failed[0]!.error).toBe('label: "\u0007" is reserved');
  });
});
