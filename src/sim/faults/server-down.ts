import type { World } from '../world-types.ts';

/**
 * Takes the server process down for a storage operation and brings it back: in-flight requests
 * are killed (their transactions roll back), new ones are refused until `change` is done and the
 * server reopened. Returns false when the server was already down (the operation is skipped).
 */
export async function withServerDown(world: World, what: string, change: () => Promise<void>): Promise<boolean> {
  if (!world.server.up) return false;
  world.server.up = false;
  world.server.incarnation++;
  const killed = world.sched.kill('server');
  world.sched.record('server', what, `${killed} requests killed`);
  await world.server.db.exec('ROLLBACK');
  // Observations asked for before the change must read the database they observed.
  const observer = (world as { observer?: { pending: number; paused: boolean; flush(): Promise<void> } }).observer;
  for (let i = 0; observer && observer.pending > 0 && i < 1_000; i++) {
    await observer.flush();
    if (observer.pending > 0) await world.sched.sleep(1);
  }
  // The change and the reopen take virtual time in which clients still apply answers sent
  // before: what they ask to be observed waits for the server's new tables.
  if (observer) observer.paused = true;
  try {
    await change();
    await world.reopenServer();
  } finally {
    if (observer) observer.paused = false;
  }
  world.server.up = true;
  world.sched.record('server', 'restart', `epoch ${world.server.database.epoch}`);
  return true;
}
