import { describe, expect, it } from 'vitest';
import { jsonChunks } from './json-chunks.ts';

describe('jsonChunks', () => {
  const rows = Array.from({ length: 10 }, (_, i) => ({ key: `item/${i}`, data: { n: i } }));

  it('keeps every row, in order, each chunk a JSON array within the bound', () => {
    const chunks = jsonChunks(rows, 80);
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(80);
    expect(chunks.flatMap((c) => JSON.parse(c) as unknown[])).toEqual(rows);
  });

  it('one chunk when the rows fit, none for no rows', () => {
    expect(jsonChunks(rows, 1_000_000)).toEqual([JSON.stringify(rows)]);
    expect(jsonChunks([], 10)).toEqual([]);
  });

  it('a row bigger than the bound goes alone', () => {
    const big = { key: 'item/big', data: { text: 'x'.repeat(200) } };
    const chunks = jsonChunks([rows[0], big, rows[1]], 100);
    expect(chunks.map((c) => JSON.parse(c))).toEqual([[rows[0]], [big], [rows[1]]]);
  });
});
