import { describe, expect, it } from 'vitest';
import { pullResponseOKSchema } from '../../protocol/index.ts';
import { pullResponseWireSchema } from './pull-response.ts';

const deep = (n: number): unknown => (n === 0 ? 1 : { d: deep(n - 1) });
const resp = (patch: unknown[]) => ({ cookie: { order: 3, epoch: 'e1', fp: 'f' }, lastMutationIDChanges: { c1: 2 }, patch });

describe('pullResponseWireSchema', () => {
  const accepted = [
    resp([]),
    resp([{ op: 'clear' }, { op: 'put', key: 'a/1', value: { n: 1, s: 'x', deep: { list: [1, null, true] } } }, { op: 'del', key: 'a/2' }]),
    resp([{ op: 'put', key: 'a/1', value: { d: deep(20), e: 'emoji \ud83d\ude00', o: Object.create(null) } }]),
    { ...resp([]), more: false },
    { ...resp([{ op: 'del', key: 'a/2' }]), more: true },
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
    resp([{ op: 'put', key: 'a/1', value: { ['k\u0000']: 1 } }]),
    resp([{ op: 'put', key: 'a/1', value: { list: ['fine', { s: 'half \udc00' }] } }]),
    resp([{ op: 'put', key: 'a/1', value: { d: deep(200) } }]),
    resp([{ op: 'put', key: 'a/1', value: { d: new Date(0) } }]),
    { ...resp([]), cookie: { order: -1, epoch: 'e1' } },
    { ...resp([]), lastMutationIDChanges: { c1: 1.5 } },
    { cookie: { order: 1, epoch: 'e' }, lastMutationIDChanges: {} },
    { ...resp([]), more: 'no' },
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

  it('refuses a forbidden key, as jsonProblem does', () => {
    const r = pullResponseWireSchema.safeParse(resp([{ op: 'put', key: 'a/1', value: { ok: { list: [JSON.parse('{"ok": 1, "__proto__": {"a": 1}}')] } } }]));
    expect(r.error?.issues[0]?.message).toBe('value: ok.list[0].__proto__: the key "__proto__" is not allowed');
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
