/** The Rng reimplements seedrandom's ARC4: every stream must be seedrandom's, draw for draw. */
import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { KeyMix, Rng } from './rng.ts';

describe('Rng', () => {
  const seeds = ['', '1', 'bench', 'a/scheduler/pick|1234|c1:sync,c2:push#3', 'x'.repeat(255), 'y'.repeat(256), `${'long-'.repeat(400)}end`, 'ünïcødé ✓ 日本', 42];
  it.each(seeds.map((s) => [String(s).slice(0, 40), s] as const))('seed %j draws what seedrandom draws', (_, seed) => {
    const ours = new Rng(seed);
    const theirs = seedrandom(String(seed));
    for (let k = 0; k < 600; k++) expect(ours.next()).toBe(theirs.quick());
  });

  it('forks are seedrandom streams of the joined label, and a fork leaves its parent alone', () => {
    const root = new Rng('root');
    const before = new Rng('root').next();
    const child = root.fork('net/c3/17');
    const ref = seedrandom('root/net/c3/17');
    for (let k = 0; k < 50; k++) expect(child.next()).toBe(ref.quick());
    expect(root.next()).toBe(before);
  });

  it('a key mixed in parts gives the stream of the concatenation (across 256 characters too)', () => {
    const parts = ['root', '/pick|', '1234', '|', 'c1:sync-loop', ...Array.from({ length: 60 }, (_, i) => `,c${i}:poke`)];
    const mixed = parts.reduce((m, p) => m.add(p), new KeyMix()).rng();
    const ref = seedrandom(parts.join(''));
    for (let k = 0; k < 50; k++) expect(mixed.next()).toBe(ref.quick());
    expect(new KeyMix().add('a').add('').add('b').rng().next()).toBe(seedrandom('ab').quick());
  });
});
