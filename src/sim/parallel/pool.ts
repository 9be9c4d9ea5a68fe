import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import type { FromWorker, ToWorker, WorkerJob } from './messages.ts';
import type { RunSeedOptions, SeedRunner } from './seed-runner.ts';

export const defaultWorkers = () => availableParallelism();

/** The worker entry next to this module: worker.js in the built package, worker.ts from the sources (run through tsx). */
function workerEntry(): { file: URL; execArgv: string[] } {
  const ts = import.meta.url.endsWith('.ts');
  const file = new URL(ts ? './worker.ts' : './worker.js', import.meta.url);
  const execArgv = ts ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href] : [];
  return { file, execArgv };
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  onStep?: (what: string, events: number) => void;
}

/**
 * A pool of `workers` child processes, each with its own databases: slot i is worker i. A worker
 * that dies fails its seed's promise (and so the sweep) with its exit code.
 */
export async function workerPool(workers: number, job: WorkerJob): Promise<SeedRunner> {
  const { file, execArgv } = workerEntry();
  const pending = new Map<number, Pending>();
  const peak: number[] = Array(workers).fill(0);
  let nextId = 0;
  let closing = false;
  const children: ChildProcess[] = [];
  const ready: Promise<void>[] = [];
  for (let slot = 0; slot < workers; slot++) {
    const child = fork(file, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    children.push(child);
    ready.push(
      new Promise<void>((resolve, reject) => {
        child.on('message', (m: FromWorker) => {
          if ('rss' in m) peak[slot] = Math.max(peak[slot]!, m.rss);
          if (m.type === 'ready') return resolve();
          if (m.type === 'shrink-step') return pending.get(m.id)?.onStep?.(m.what, m.events);
          const p = m.id === null ? undefined : pending.get(m.id);
          if (m.type === 'error') {
            const err = new Error(`worker ${slot}: ${m.message}`);
            if (p) {
              pending.delete(m.id!);
              p.reject(err);
            } else reject(err);
            return;
          }
          pending.delete(m.id);
          p?.resolve(m.outcome);
        });
        child.on('exit', (code, signal) => {
          if (closing) return;
          const err = new Error(`worker ${slot} (pid ${child.pid}) exited (${signal ?? `code ${code}`})`);
          reject(err);
          for (const [id, p] of pending) if (owner.get(id) === slot) p.reject(err);
        });
      }),
    );
    child.send({ type: 'init', job } satisfies ToWorker);
  }
  const owner = new Map<number, number>();
  try {
    await Promise.all(ready);
  } catch (e) {
    closing = true;
    for (const c of children) c.kill();
    throw e;
  }
  const call = <T>(slot: number, m: { type: 'run'; seed: string; options: RunSeedOptions } | { type: 'shrink'; seed: string; budgetMs: number }, onStep?: Pending['onStep']) =>
    new Promise<T>((resolve, reject) => {
      const id = ++nextId;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onStep });
      owner.set(id, slot);
      children[slot]!.send({ ...m, id } as ToWorker);
    });
  return {
    slots: workers,
    run: (slot, seed, options) => call(slot, { type: 'run', seed, options }),
    shrink: (slot, seed, budgetMs, onStep) => call(slot, { type: 'shrink', seed, budgetMs }, onStep),
    peakRss: () => [...peak],
    async close() {
      closing = true;
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              c.once('exit', () => resolve());
              c.send({ type: 'stop' } satisfies ToWorker);
              // A worker that does not stop in time (a stuck database) is ended.
              setTimeout(() => c.kill(), 10_000).unref();
            }),
        ),
      );
    },
  };
}
