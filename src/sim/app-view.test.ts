/** The app view's live-query invariant: it tells a result that breaks its own query. */
import { describe, expect, it } from 'vitest';
import { check } from './app-view.ts';

const row = (type: string, id: string, data: Record<string, unknown>) => ({ key: `${type}/${id}`, type, id, data: data as never });

describe('live-query check', () => {
  it('accepts rows that answer the query', () => {
    expect(check({ type: 'review', orderBy: { field: 'votes', direction: 'desc' }, limit: 2 }, [row('review', 'r1', { votes: 3 }), row('review', 'r0', { votes: 1 })])).toBeUndefined();
    expect(check({ type: 'comment', where: { pinned: true }, orderBy: { field: 'edited' } }, [row('comment', 'c0', { pinned: true, edited: 1 }), row('comment', 'c1', { pinned: true })])).toBeUndefined();
  });
  it('refuses rows out of order, over the limit, of another type or not matching where', () => {
    expect(check({ orderBy: { field: 'votes', direction: 'desc' } }, [row('review', 'r1', { votes: 1 }), row('review', 'r0', { votes: 3 })])).toMatch(/before/);
    expect(check({ limit: 1 }, [row('review', 'r1', {}), row('review', 'r0', {})])).toMatch(/limit/);
    expect(check({ type: 'review' }, [row('comment', 'c0', {})])).toMatch(/another type/);
    expect(check({ where: { pinned: true } }, [row('comment', 'c0', { pinned: false })])).toMatch(/pinned/);
    expect(check({ orderBy: { field: 'edited' } }, [row('comment', 'c0', {}), row('comment', 'c1', { edited: 2 })])).toMatch(/without edited/);
  });
});
