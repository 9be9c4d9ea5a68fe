import { describe, expect, it } from 'vitest';
import { exactlyOnce } from './exactly-once.ts';
import type { FinalState } from './types.ts';
import type { QueuedMutation } from '../world-types.ts';

const entry = (version: number, clientID: string, mutationID: number, error: string | null = null) => ({ version, clientID, mutationID, name: 'upsert', args: {}, effects: [], error, createdAt: 0 });
const state = (log: ReturnType<typeof entry>[], queued: Partial<QueuedMutation>[], wiped: string[] = []) => ({ t: 0, server: { log }, queued, wipedClientIDs: new Set(wiped) }) as unknown as FinalState;

describe('exactly-once: ids fenced by a re-queued copy (swarm seed 6, scenarios/regressions/late-push-of-earlier-identity-after-fence.json)', () => {
  it('a late push of the earlier identity past the fence starts past 1: the fenced ids count, nothing is reported', async () => {
    // A's mutations 1..3 re-queued as B#1..3 (a reset); B#1 processed (fencing A#1); A's push of 2..3,
    // sent before the reset, arrives next and applies; B#2..3 are then duplicates.
    const log = [entry(1, 'B', 1), entry(2, 'A', 2), entry(3, 'A', 3), entry(4, 'B', 2, 'duplicate: already processed as A#2'), entry(5, 'B', 3, 'duplicate: already processed as A#3')];
    const queued = [1, 2, 3].map((n) => ({ clientID: 'B', mutationID: n, formerIDs: [`A#${n}`] }));
    expect(await exactlyOnce(state(log, queued))).toEqual([]);
  });

  it('a fenced id past the identity\'s last logged one is not filled in (a data loss took the ids between)', async () => {
    // A#1 logged; A#2 lost with the database; A#3 re-queued as B#1 and processed: A has only 1 in the log.
    const log = [entry(1, 'A', 1), entry(2, 'B', 1)];
    expect(await exactlyOnce(state(log, [{ clientID: 'B', mutationID: 1, formerIDs: ['A#3'] }]))).toEqual([]);
  });

  it('an identity a data loss wiped may start past 1 in this database (its first ids were acknowledged by the lost one), but not skip one after', async () => {
    const log = [entry(1, 'A', 7), entry(2, 'A', 8)];
    expect(await exactlyOnce(state(log, [], ['A']))).toEqual([]);
    const gap = [entry(1, 'A', 7), entry(2, 'A', 9)];
    expect((await exactlyOnce(state(gap, [], ['A'])))[0]?.message).toMatch(/not contiguous from 7: expected 8, found 9/);
  });

  it('a gap that no other identity of the mutation fills is still reported', async () => {
    const log = [entry(1, 'A', 2), entry(2, 'A', 3)];
    expect((await exactlyOnce(state(log, [{ clientID: 'A', mutationID: 1 }])))[0]?.message).toMatch(/A's mutation ids in the log are not contiguous from 1: expected 1, found 2/);
  });
});
