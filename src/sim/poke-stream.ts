import { Crash } from './scheduler.ts';
import { isOffline } from './faults/offline.ts';
import { isPartitioned } from './faults/partition.ts';
import { latency } from './faults/network-faults.ts';
import { simApi } from './sim-api.ts';
import { sendPoke } from './pokes.ts';
import type { SimClient, World } from './world-types.ts';

/** How long a client waits before opening its poke stream again (virtual ms), as EventSource's retry. */
export const POKE_RECONNECT_MS = 1_000;
/** How soon the stream looks again for the group's token, before its first registration. */
const TOKEN_POLL_MS = 20;

/**
 * A client's GET /api/poke stream, as the app opens it with EventSource: the production PokeHub
 * of the server's SyncApi writes one `poke` event per committed push into it, and each event then
 * travels to the client over the simulated network (sendPoke: it can be dropped or delayed, and an
 * offline, partitioned or crashed client misses it). A refused connection (503: too many streams
 * or draining; 401 after a storage loss), a stream the hub drops (a slow reader) or a server
 * restart ends it; the client opens another after POKE_RECONNECT_MS. The task is the client's:
 * its crash closes the stream (the request's signal aborts, as a closed tab's does).
 */
export function startPokeStream(world: World, c: SimClient, isCurrent: () => boolean, token: () => Promise<string>, stop: AbortSignal): void {
  const { sched } = world;
  sched.spawn(c.name, 'poke-stream', async () => {
    let attempt = 0;
    let waitingForToken = false;
    while (isCurrent() && !stop.aborted) {
      const leave = new AbortController();
      const onStop = () => leave.abort();
      stop.addEventListener('abort', onStop, { once: true });
      const closed = sched.future<void>();
      waitingForToken = false;
      try {
        await open(world, c, ++attempt, token, leave.signal, closed);
        await sched.waitFor(closed, Number.POSITIVE_INFINITY, () => new Error('unreachable'));
        sched.record(c.name, 'poke-stream-closed');
      } catch (e) {
        if (e instanceof Crash) throw e;
        if ((e as Error).message.startsWith('poke stream refused')) world.countFault('poke-stream-refused');
        waitingForToken = (e as Error).message.startsWith('no token yet');
        sched.record(c.name, 'poke-stream-failed', (e as Error).message.slice(0, 120));
      } finally {
        leave.abort();
        stop.removeEventListener('abort', onStop);
      }
      try {
        // Before the group's first registration the app opens the stream as soon as it has a token.
        await sched.sleep(waitingForToken ? TOKEN_POLL_MS : POKE_RECONNECT_MS, stop);
      } catch (e) {
        if (e instanceof Crash) throw e;
        return; // the run's loops stopped
      }
    }
  });
}

async function open(world: World, c: SimClient, attempt: number, token: () => Promise<string>, signal: AbortSignal, closed: ReturnType<World['sched']['future']>): Promise<void> {
  const { sched } = world;
  const rng = world.netRng.fork(`${c.name}/poke-stream${attempt}`);
  await sched.sleep(latency(rng, world.network));
  if (isOffline(world, c) || isPartitioned(world, c)) throw new Error('unreachable server (offline or partitioned)');
  if (!world.server.up) throw new Error('connection refused: server down');
  const api = await simApi(world);
  const request = new Request(`http://sim/api/poke?token=${encodeURIComponent(await token())}`);
  // The client's own signal, not one the Request derives from it: undici links a derived signal
  // through a weak reference, so after a garbage collection an abort may never arrive (the stream
  // stays open; the run then depends on when GC ran, and its heartbeats go on forever).
  Object.defineProperty(request, 'signal', { value: signal });
  const res = await api.poke(request);
  if (res.status !== 200 || !res.body) throw new Error(`poke stream refused: ${res.status} ${(await res.text()).slice(0, 80)}`);
  sched.record(c.name, 'poke-stream-open');
  void pump(world, c, res.body.getReader(), closed);
}

/**
 * Reads the stream as the hub writes it (the hub enqueues inside the pushing request's task; each
 * read resolves in a microtask of it, so no task waits on it): every `poke` event is sent on.
 */
async function pump(world: World, c: SimClient, reader: ReadableStreamDefaultReader<Uint8Array>, closed: { resolve(v: void): void }): Promise<void> {
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const text = decoder.decode(value, { stream: true });
      for (const event of text.split('\n\n')) {
        if (event.startsWith('event: poke')) sendPoke(world, undefined, c);
        else if (event.startsWith(': heartbeat')) world.countFault('poke-heartbeat');
      }
    }
  } catch (e) {
    // The hub dropped this reader (it fell its buffer behind) or the connection reset.
    world.countFault('poke-stream-dropped');
    world.sched.record(c.name, 'poke-stream-dropped', (e as Error).message.slice(0, 120));
  }
  closed.resolve();
}
