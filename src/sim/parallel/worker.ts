/**
 * A worker process of a parallel sweep: opens its own databases (its own PGlite instances, or its
 * own connection to PostgreSQL), then runs and shrinks the seeds the parent sends, one at a time.
 */
import { buildConfig } from '../scenario.ts';
import { openStores } from '../stores.ts';
import { runSeed, shrinkSeed } from './seed-runner.ts';
import type { FromWorker, ToWorker, WorkerJob } from './messages.ts';

const send = (m: FromWorker) => process.send!(m);
const rss = () => process.resourceUsage().maxRSS * 1024;

let job: WorkerJob | undefined;
let stores: Awaited<ReturnType<typeof openStores>> | undefined;
// Messages are handled one after another: a worker runs one seed at a time.
let queue: Promise<void> = Promise.resolve();

// An orphaned worker (the parent died) must not linger with its databases open.
process.on('disconnect', () => process.exit(0));

process.on('message', (m: ToWorker) => {
  queue = queue.then(() => handle(m)).catch((e: Error) => {
    send({ type: 'error', id: 'id' in m ? m.id : null, message: e.stack ?? e.message });
  });
});

async function handle(m: ToWorker): Promise<void> {
  if (m.type === 'init') {
    job = m.job;
    stores = await openStores(job.input.server ?? 'pglite');
    send({ type: 'ready', rss: rss() });
  } else if (m.type === 'run') {
    const outcome = await runSeed(buildConfig({ ...job!.input, seed: m.seed }), stores!, m.options);
    send({ type: 'result', id: m.id, outcome, rss: rss() });
  } else if (m.type === 'shrink') {
    const outcome = await shrinkSeed(buildConfig({ ...job!.input, seed: m.seed }), stores!, m.budgetMs, (what, events) => send({ type: 'shrink-step', id: m.id, what, events }));
    send({ type: 'shrunk', id: m.id, outcome, rss: rss() });
  } else {
    await stores?.close();
    process.disconnect();
  }
}
