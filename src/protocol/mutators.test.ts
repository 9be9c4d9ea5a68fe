import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createRegistry, defineMutator, runMutator } from './mutators.ts';

const reg = createRegistry({
  half: defineMutator(z.object({}), async (tx) => {
    tx.put('a', '1', { x: 1 });
    throw new Error('boom');
  }),
  readTwice: defineMutator(z.object({}), async (tx) => {
    await tx.get('a', '1');
    tx.put('a', '2', { y: 2 });
  }),
});
const m = (name: string, args: unknown = {}) => ({ name, args, clientID: 'c', mutationID: 1 });

describe('mutators', () => {
  it('buffers writes: a mutator that throws half-way has no effects, only an error', async () => {
    expect(await runMutator(reg, m('half'), 'server', async () => undefined)).toEqual({ effects: [], error: 'boom' });
  });

  it('reports unknown mutators and invalid args as errors naming the field', async () => {
    expect((await runMutator(reg, m('nope'), 'server', async () => undefined)).error).toMatch(/unknown mutator "nope"/);
    expect((await runMutator(reg, m('increment', { type: 'a', id: '1', field: 'n', by: 'x' }), 'server', async () => undefined)).error).toMatch(/by/);
  });

  it('lets a failing read abort the caller instead of recording it as the mutator failing', async () => {
    await expect(runMutator(reg, m('readTwice'), 'server', async () => {
      throw new Error('connection lost');
    })).rejects.toThrow('connection lost');
  });

  it('refuses an app mutator that would shadow a built-in', () => {
    expect(() => createRegistry({ upsert: reg.half! })).toThrow(/shadow/);
  });

  it('increments from zero, creating the entity and field', async () => {
    const r = await runMutator(reg, m('increment', { type: 't', id: '1', field: 'n', by: 3 }), 'client', async () => undefined);
    expect(r.effects).toEqual([{ op: 'put', key: 't/1', value: { n: 3 } }]);
  });

  it('fails an increment whose result is not finite instead of storing null', async () => {
    const r = await runMutator(reg, m('increment', { type: 't', id: '1', field: 'n', by: Number.MAX_VALUE }), 'client', async () => ({ n: Number.MAX_VALUE }));
    expect(r.effects).toEqual([]);
    expect(r.error).toMatch(/not a finite number/);
  });

  it('with limits, fails a mutation whose document is too big or not storable', async () => {
    const limits = { maxDocumentBytes: 100, maxDepth: 64 };
    const big = await runMutator(reg, m('upsert', { type: 't', id: '1', data: { s: 'x'.repeat(200) } }), 'client', async () => undefined, { limits });
    expect(big).toEqual({ effects: [], error: expect.stringMatching(/document t\/1: \d+ bytes encoded, over the limit of 100/) });
    const ok = await runMutator(reg, m('upsert', { type: 't', id: '1', data: { s: 'x' } }), 'client', async () => undefined, { limits });
    expect(ok.error).toBeUndefined();
  });
});
