/**
 * What a run keeps in memory: only the answers a checker reads, and no WeakRef target held for
 * the whole run (V8 frees those only when a job ends, so a run must give the event loop a turn).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from './rng.ts';
import { buildConfig } from './scenario.ts';
import { SimWorld, type Stores } from './world.ts';
import { useSimStores } from '../../test/support/sim-stores.ts';

const getStores = useSimStores();
let stores: Stores;
beforeAll(() => {
  stores = getStores();
});

const quiet = (seed: string, clients: number) => ({ ...buildConfig({ seed, profile: 'none', clients, steps: 1 }), dbLatencyMs: 0 });

describe('world memory', () => {
  it('keeps the 5xx answers only (the no-5xx checker reads nothing else)', async () => {
    const w = await SimWorld.create(quiet('mem-answers', 2), new Rng('mem-answers'), stores, undefined, `memanswers${process.pid}`);
    w.sched.spawn('sim', 'writes', async () => {
      for (const c of w.clients) {
        await c.engine!.upsert('comment', `x-${c.name}`, {});
        await c.engine!.sync();
      }
    });
    await w.sched.run();
    expect(w.stats.pushes + w.stats.pulls).toBeGreaterThan(2);
    expect(w.answers.filter((a) => a.status < 500)).toEqual([]);
  });

  it('gives the event loop a turn during a long run', async () => {
    const w = await SimWorld.create(quiet('mem-turn', 1), new Rng('mem-turn'), stores, undefined, `memturn${process.pid}`);
    let turned = false;
    setImmediate(() => (turned = true));
    let sawTurn = false;
    w.sched.spawn('sim', 'steps', async () => {
      for (let i = 0; i < 3000; i++) await w.sched.sleep(1);
      sawTurn = turned;
    });
    await w.sched.run();
    expect(sawTurn).toBe(true);
  });
});
