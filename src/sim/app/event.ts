import { z } from 'zod';

/** An app mutator call by one client: drawn from the simulation's workload when the schedule is made. */
export const mutateEventSchema = z.object({
  t: z.number().nonnegative(),
  kind: z.literal('mutate'),
  client: z.number().int().nonnegative(),
  name: z.string().min(1),
  args: z.unknown(),
});
export type MutateEvent = z.infer<typeof mutateEventSchema>;
