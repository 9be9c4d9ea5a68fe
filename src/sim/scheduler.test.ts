import { describe, expect, it } from 'vitest';
import { Rng } from './rng.ts';
import { Crash, PickMix, Scheduler, SchedulerLimitError } from './scheduler.ts';
import { SyncLoop } from '../engine/sync-loop.ts';

const limits = { maxSteps: 10_000, maxVirtualMs: 1_000_000 };

async function interleaving(seed: string): Promise<string[]> {
  const s = new Scheduler(new Rng(seed), limits);
  const out: string[] = [];
  for (const name of ['a', 'b', 'c']) {
    s.spawn(name, 'work', async () => {
      for (let i = 0; i < 5; i++) {
        out.push(`${name}${i}@${s.now}`);
        await (i % 2 ? s.sleep(3) : s.yield());
      }
    });
  }
  await s.run();
  return out;
}

describe('Scheduler', () => {
  it('is a function of the seed', async () => {
    expect(await interleaving('7')).toEqual(await interleaving('7'));
    const variants = new Set<string>();
    for (let seed = 0; seed < 10; seed++) variants.add((await interleaving(String(seed))).join(' '));
    expect(variants.size).toBeGreaterThan(1);
  });

  it('moves virtual time only to the next wake-up', async () => {
    const s = new Scheduler(new Rng(1), limits);
    const times: number[] = [];
    s.spawn('x', 't', async () => {
      await s.sleep(500);
      times.push(s.now);
      await s.sleep(250);
      times.push(s.now);
    });
    await s.run();
    expect(times).toEqual([500, 750]);
  });

  it('throws Crash into a killed task at its next park, and the kill spares other owners', async () => {
    const s = new Scheduler(new Rng(1), limits);
    const seen: string[] = [];
    s.spawn('victim', 'loop', async () => {
      try {
        for (;;) await s.sleep(10);
      } catch (e) {
        seen.push(e instanceof Crash ? 'crashed' : 'other');
        throw e;
      }
    });
    s.spawn('other', 'loop', async () => {
      await s.sleep(100);
      seen.push('other done');
    });
    s.spawn('killer', 'kill', async () => {
      await s.sleep(35);
      expect(s.kill('victim')).toBe(1);
    });
    await s.run();
    expect(seen).toEqual(['crashed', 'other done']);
  });

  it('parks lock waiters visibly and hands the lock over in order', async () => {
    const s = new Scheduler(new Rng(3), limits);
    const order: string[] = [];
    for (const n of ['a', 'b']) {
      s.spawn(n, 'tx', async () => {
        await s.lock('db');
        order.push(`${n} in`);
        await s.sleep(5);
        order.push(`${n} out`);
        s.unlock('db');
      });
    }
    await s.run();
    expect(order.join(',')).toMatch(/^(a in,a out,b in,b out|b in,b out,a in,a out)$/);
  });

  it('reports a deadlock and a runaway run instead of hanging', async () => {
    const s = new Scheduler(new Rng(1), limits);
    const f = s.future<void>();
    s.spawn('x', 'wait', async () => {
      await s.lock('l');
      await s.lock('l2');
      s.spawn('y', 'wait', async () => s.lock('l'));
      await s.waitFor(f, Number.POSITIVE_INFINITY, () => new Error('never'));
    });
    await expect(s.run()).rejects.toThrow(SchedulerLimitError);
    const r = new Scheduler(new Rng(1), { maxSteps: 50, maxVirtualMs: 1e9 });
    r.spawn('x', 'spin', async () => {
      for (;;) await r.yield();
    });
    await expect(r.run()).rejects.toThrow(/step limit 50/);
  });

  it('fails the run, naming the task, when a killed task keeps waiting in a loop that swallows its Crash (swarm seed 154 spun for hours)', async () => {
    const s = new Scheduler(new Rng(1), limits);
    let otherRan = false;
    s.spawn('c2', 'view', async () => {
      for (;;) await s.sleep(10).catch(() => {});
    });
    s.spawn('faults', 'crash', async () => {
      await s.sleep(5);
      s.kill('c2');
      await s.sleep(100);
      otherRan = true;
    });
    await expect(s.run()).rejects.toThrow(/task c2:view kept waiting after it was killed/);
    expect(otherRan).toBe(false); // the run ended at the finding (the others were unwound, not run on)
  });

  it('refuses a task re-entering a lock it holds (a nested query inside a transaction)', async () => {
    const s = new Scheduler(new Rng(1), limits);
    s.spawn('x', 'nested', async () => {
      await s.lock('db');
      await s.lock('db');
    });
    await expect(s.run()).rejects.toThrow(/re-entered lock db/);
  });

  it('ends a sleep early when its AbortSignal fires, with the reason, and leaves other sleeps alone', async () => {
    const s = new Scheduler(new Rng(1), limits);
    const wake = new AbortController();
    const seen: string[] = [];
    s.spawn('a', 'sleeper', async () => {
      try {
        await s.sleep(1_000, wake.signal);
        seen.push(`slept ${s.now}`);
      } catch (e) {
        seen.push(`woken ${s.now} ${String(e)}`);
      }
      await s.sleep(300, new AbortController().signal);
      seen.push(`slept again ${s.now}`);
    });
    s.spawn('b', 'poker', async () => {
      await s.sleep(100);
      wake.abort('poke');
    });
    await s.run();
    expect(seen).toEqual(['woken 100 poke', 'slept again 400']);
  });

  it('drives the engine\'s real SyncLoop in virtual time inside one task: interval, poke, stop', async () => {
    const s = new Scheduler(new Rng(1), limits);
    const runs: number[] = [];
    const loop = new SyncLoop({ timer: { sleep: (ms, signal) => s.sleep(ms, signal) }, random: new Rng('jitter'), run: async () => void runs.push(s.now), onError: () => {} });
    // The loop's promise chain is the task: it parks in the virtual timer, and pokes from other tasks wake it.
    s.spawn('c0', 'sync-loop', async () => {
      loop.start({ intervalMs: 1_000, pokeDelayMs: 50 });
      await (loop as unknown as { running: Promise<void> }).running; // as syncLoopRun does for an engine
    });
    let stopped = -1;
    s.spawn('c0', 'app', async () => {
      await s.sleep(2_500);
      loop.poke(); // at 2500: runs at 2550 instead of 3000
      await s.sleep(1_000);
      await loop.stop(); // a wait on the virtual timer: this task parks until the loop's task has ended
      stopped = s.now;
    });
    await s.run();
    expect(runs).toEqual([0, 1_000, 2_000, 2_550]); // stopped at 3500, before the next interval
    expect(stopped).toBe(3_500);
  });
});

describe('PickMix', () => {
  it('picks what the fork named by the moment and every ready label picks, as the list changes anywhere', () => {
    const pick = new PickMix();
    const edits = new Rng('edits');
    let labels = Array.from({ length: 70 }, (_, i) => `c${i}:loop`);
    let now = 5;
    for (let step = 0; step < 400; step++) {
      const r = edits.next();
      const at = edits.int(0, labels.length);
      if (r < 0.3 && labels.length > 1) labels.splice(Math.min(at, labels.length - 1), 1);
      else if (r < 0.6) labels.splice(at, 0, `server:c${step} push#${step}`);
      else if (r < 0.65) now += edits.int(1, 3);
      else if (r < 0.67) labels = labels.slice(0, 2);
      // else: the same list again
      const expected = Math.floor(new Rng(`root/pick|${now}|${labels.join(',')}`).next() * labels.length);
      expect(pick.index('root', now, labels.map((label) => ({ label })))).toBe(expected);
    }
  });
});
