import { z } from 'zod';
import type { FaultModule } from './types.ts';
import { defectUntilFixed, ratesUntilFixed } from './double-apply.ts';
import { withServerDown } from './server-down.ts';
import { markServerDataLoss } from '../identity.ts';

export const storageLossEventSchema = z.object({ t: z.number().nonnegative(), kind: z.literal('storage-loss') });

/**
 * The server's database is replaced by an empty one (a lost volume): new tables, a new epoch,
 * no tokens. Every client must start over through ClientStateNotFound (the engine re-queues its
 * pending mutations under a new client id) and register again (401). Writes acknowledged only
 * by the lost database are legitimately gone: the checkers learn it through markServerDataLoss.
 * Found by this module (fixed by origins): a push of a client's first mutations that reaches the
 * new database after the loss was taken as a new client's (ids from 1), while the client reset on
 * its next pull and re-queued the same mutations under a new id: they applied twice.
 */
export const storageLoss: FaultModule<typeof storageLossEventSchema> = {
  kind: 'storage-loss',
  rate: 'storageLoss',
  // Off in every profile until the known double-apply defect is fixed (the switch in double-apply.ts; a scenario can turn it on).
  rates: ratesUntilFixed('storageLoss'),
  knownDefect: defectUntilFixed('a first push that crosses the loss is applied twice (as a new client, then re-queued after the reset)'),
  schema: storageLossEventSchema,
  generate: (_rng, t) => ({ t, kind: 'storage-loss' }),
  arbitrary: (f, t) => f.record({ t, kind: f.constant('storage-loss' as const) }),
  async apply(world) {
    const schema = world.server.database.schema;
    await withServerDown(world, 'storage-loss', async () => {
      markServerDataLoss(world, []);
      await world.server.db.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    });
  },
  report: { traceKinds: ['storage-loss'], colour: '#6a040f', legend: 'server storage lost' },
};
