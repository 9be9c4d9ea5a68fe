/**
 * The stress mode (src/stress) end to end on a short run: real engines against several server
 * instances at once with network faults converge and pass every checker; and its pulled-snapshot
 * check flags a state the server never had. On PostgreSQL too when LOCKSTEP_PG_URL is set.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runStress, snapshotCheck } from '../src/stress/run.ts';

const kinds = ['pglite', ...(process.env.LOCKSTEP_PG_URL ? ['postgres' as const] : [])] as const;

describe('lockstep stress', () => {
  for (const server of kinds) {
    it(`${server}: several servers, faults, heal: no violations, history written`, async () => {
      const out = mkdtempSync(join(tmpdir(), 'lockstep-stress-'));
      try {
        const r = await runStress({ server, servers: 3, clients: 4, seconds: 3, poolSize: 2, healRounds: 30, faults: { drop: 0.1, lostAck: 0.1, duplicate: 0.1 }, outDir: out, seed: 'test', log: () => {} });
        expect(r.violations).toEqual([]);
        expect(r.mutations).toBeGreaterThan(0);
        expect(r.applied).toBe(r.mutations);
        expect(r.pulls).toBeGreaterThan(0);
        expect(r.transport.drops + r.transport.lostAcks + r.transport.duplicates).toBeGreaterThan(0);
        expect(JSON.parse(readFileSync(r.historyFile, 'utf8')).history.length).toBeGreaterThan(0);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    });
  }

  it('flags a pulled snapshot that no prefix of the log produces', () => {
    const log = [
      { version: 1, effects: [{ op: 'put' as const, key: 'doc/a', value: { n: 1 } }] },
      { version: 2, effects: [{ op: 'put' as const, key: 'doc/b', value: { n: 2 } }] },
    ];
    const at = (entries: [string, unknown][]) => JSON.stringify(entries);
    expect(snapshotCheck(log, [{ client: 'c0', cookie: 1, state: at([['doc/a', { n: 1 }]]), t: 0 }, { client: 'c1', cookie: 2, state: at([['doc/a', { n: 1 }], ['doc/b', { n: 2 }]]), t: 0 }])).toEqual([]);
    // Cookie 2 without version 2's write: a state mixing two snapshots.
    const v = snapshotCheck(log, [{ client: 'c0', cookie: 2, state: at([['doc/a', { n: 1 }]]), t: 0 }]);
    expect(v).toHaveLength(1);
    expect(v[0]!.checker).toBe('snapshot');
  });
});
