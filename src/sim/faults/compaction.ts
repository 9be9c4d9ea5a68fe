import { z } from 'zod';
import type { FaultModule } from './types.ts';

export const compactionEventSchema = z.object({
  t: z.number().nonnegative(),
  kind: z.literal('compaction'),
  keepVersions: z.number().int().nonnegative(),
  /** Also keep what is younger than this (the age retention; with both, the stricter one wins). */
  keepMs: z.number().int().nonnegative().optional(),
});

/**
 * The server compacts its replication log at a random moment, keeping the last `keepVersions`
 * versions (0: everything folds into the base). Clients behind the new horizon get a full
 * resync. What is dropped is read first and archived in the world (never past what was read),
 * so the checkers that need every mutation still see the whole history, while convergence
 * folds from the server's compacted base plus what is left of its log.
 */
export const compaction: FaultModule<typeof compactionEventSchema> = {
  kind: 'compaction',
  rate: 'compaction',
  rates: { flaky: 0, 'offline-heavy': 0, crashy: 0, chaos: 0.004, swarmMax: 0.03 },
  schema: compactionEventSchema,
  // Half the time everything folds: every client not fully caught up is then behind the horizon.
  // keepMs in 40% from a stream of its own (a fork does not advance `rng`): the schedule's other draws stay as they were.
  generate: (rng, t) => {
    const age = rng.fork(`keep-ms|${t}`);
    return { t, kind: 'compaction', keepVersions: rng.next() < 0.5 ? 0 : rng.int(0, 30), ...(age.chance(0.4) ? { keepMs: age.int(0, 5_000) } : {}) };
  },
  arbitrary: (f, t) => f.record({ t, kind: f.constant('compaction' as const), keepVersions: f.integer({ min: 0, max: 30 }), keepMs: f.integer({ min: 0, max: 5_000 }) }, { requiredKeys: ['t', 'kind', 'keepVersions'] }),
  async apply(world, e) {
    if (!world.server.up) return;
    // The server process runs the compaction: if it goes down meanwhile (a crash, a storage loss or
    // a restore replaces its database), the compaction's transaction dies with it, and nothing read
    // from the database it had is archived (the fault's task is not the server's, so it is not killed).
    const incarnation = world.server.incarnation;
    const interrupted = () => world.server.incarnation !== incarnation || !world.server.up;
    const db = world.server.database;
    try {
      const log = await db.readLog();
      if (interrupted()) return void world.sched.record('server', 'compact-interrupted', 'the server went down');
      const upTo = log.length ? log[log.length - 1]!.version : 0;
      // Archived before compacting: a checker may look between the compaction and the archive
      // (every statement is a scheduling point) and must find every row below the horizon. Rows
      // past the horizon stay in the log as well; readers take the archive only below it.
      const archived = world.compactedLog.length ? world.compactedLog[world.compactedLog.length - 1]!.version : 0;
      world.compactedLog.push(...log.filter((x) => x.version > archived));
      const r = await db.compact({ keepVersions: e.keepVersions, upTo, ...(e.keepMs !== undefined ? { keepMs: e.keepMs } : {}) });
      world.sched.record('server', 'compact', `horizon ${r.horizon}, ${r.droppedRows} rows dropped`);
    } catch (err) {
      if (!interrupted()) throw err;
      world.sched.record('server', 'compact-interrupted', `the server went down: ${(err as Error).message.slice(0, 120)}`);
    }
  },
  smaller: (e) => (e.keepMs !== undefined ? { t: e.t, kind: e.kind, keepVersions: e.keepVersions } : e.keepVersions < 30 ? { ...e, keepVersions: Math.min(30, e.keepVersions * 2 + 1) } : undefined),
  report: { traceKinds: ['compact'], colour: '#6a994e', legend: 'log compaction' },
};
