import { describe, expect, it } from 'vitest';
import { pullResponseOKSchema } from '../../protocol/index.ts';
import { pullResponseWireSchema } from './pull-response.ts';

const resp = (patch: unknown[]) => ({ cookie: { order: 3, epoch: 'e1', fp: 'f' }, lastMutationIDChanges: { c1: 2 }, patch });

describe('pullResponseWireSchema', () => {
  const accepted = [
    resp([]),
    resp([{ op: 'clear' }, { op: 'put', key: 'a/1', value: { n: 1, s: 'x', deep: { list: [1, null, true] } } }, { op: 'del', key: 'a/2' }]),
  ];
  const refused = [
    resp([{ op: 'put', key: 'a/1', value: [1] }]),
    resp([{ op: 'put', key: 'a/1', value: null }]),
    resp([{ op: 'put', key: 'a/1' }]),
    resp([{ op: 'put', key: '', value: {} }]),
    resp([{ op: 'del' }]),
    resp([{ op: 'move', key: 'a/1' }]),
    resp([null]),
    resp([{ op: 'put', key: 'a/1', value: { s: 'nul\u0000' } }]),
    resp([{ op: 'put', key: 'a/1', value: { s: 'half \ud83d' } }]),
    resp([{ op: 'put', key: 'a/1', value: { n: Infinity } }]),
    { ...resp([]), cookie: { order: -1, epoch: 'e1' } },
    { ...resp([]), lastMutationIDChanges: { c1: 1.5 } },
    { cookie: { order: 1, epoch: 'e' }, lastMutationIDChanges: {} },
  ];

  it('accepts and refuses exactly what the protocol schema does', () => {
    for (const r of accepted) {
      expect(pullResponseOKSchema.safeParse(r).success).toBe(true);
      expect(pullResponseWireSchema.parse(r)).toEqual(pullResponseOKSchema.parse(r));
    }
    for (const r of refused) {
      expect(pullResponseOKSchema.safeParse(r).success, JSON.stringify(r)).toBe(false);
      expect(pullResponseWireSchema.safeParse(r).success, JSON.stringify(r)).toBe(false);
    }
  });

  it('names the op and the path of a bad document', () => {
    const r = pullResponseWireSchema.safeParse(resp([{ op: 'clear' }, { op: 'put', key: 'a/1', value: { list: [1, { n: Infinity }] } }]));
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path).toEqual(['patch', 1]);
    expect(r.error!.issues[0]!.message).toBe('value: list[1].n: must be a finite number');
  });

  it('keeps the documents it was given (no copy)', () => {
    const value = { n: 1 };
    expect((pullResponseWireSchema.parse(resp([{ op: 'put', key: 'a/1', value }])).patch[0] as { value: unknown }).value).toBe(value);
  });
});
