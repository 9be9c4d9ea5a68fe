/**
 * vitest global setup: gives `npm test` a real PostgreSQL. When LOCKSTEP_PG_URL is unset and the
 * PostgreSQL 15 server binaries are installed, starts a private cluster (scripts/pg-cluster.sh),
 * exports its URL to the test workers, and stops it afterwards. Otherwise says in one line why
 * the PostgreSQL variants are skipped. LOCKSTEP_NO_PG=1 opts out.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const BIN = '/usr/lib/postgresql/15/bin/initdb';

export default function setup(): (() => void) | undefined {
  if (process.env.LOCKSTEP_PG_URL) {
    console.log(`[lockstep] PostgreSQL variants run against LOCKSTEP_PG_URL`);
    return undefined;
  }
  if (process.env.LOCKSTEP_NO_PG === '1') {
    console.log('[lockstep] LOCKSTEP_NO_PG=1: skipping the PostgreSQL variants');
    return undefined;
  }
  if (!existsSync(BIN)) {
    console.log(`[lockstep] PostgreSQL 15 server binaries not found (${BIN}): skipping the PostgreSQL variants (set LOCKSTEP_PG_URL to run them)`);
    return undefined;
  }
  let url: string;
  try {
    // A cluster of our own: `start` reuses a running one, which a concurrent run could then stop.
    url = execFileSync('bash', ['scripts/pg-cluster.sh', 'start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LOCKSTEP_PG_STATE: stateFile } }).trim().split('\n').pop()!;
  } catch (e) {
    console.log(`[lockstep] could not start a private PostgreSQL (${(e as Error).message.split('\n')[0]}): skipping the PostgreSQL variants`);
    return undefined;
  }
  // Workers are forked after global setup and inherit this environment.
  process.env.LOCKSTEP_PG_URL = url;
  console.log(`[lockstep] started a private PostgreSQL 15 for the PostgreSQL variants: ${url}`);
  return () => {
    execFileSync('bash', ['scripts/pg-cluster.sh', 'stop'], { stdio: 'inherit', env: { ...process.env, LOCKSTEP_PG_STATE: stateFile } });
    delete process.env.LOCKSTEP_PG_URL;
  };
}

const stateFile = `/tmp/lockstep-pg-vitest-${process.pid}.env`;
