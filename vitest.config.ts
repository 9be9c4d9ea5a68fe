import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

const src = (f: string) => new URL(`./src/public/${f}`, import.meta.url).pathname;

export default defineConfig({
  // The examples import the package by name (as an app would); here that is the sources.
  resolve: {
    alias: [
      { find: /^lockstep$/, replacement: src('index.ts') },
      { find: /^lockstep\/sim\/vitest$/, replacement: src('sim-vitest.ts') },
      { find: /^lockstep\/(server|sim|http|react)$/, replacement: src('$1.ts') },
    ],
  },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts'],
    // Starts a private PostgreSQL when the binaries are installed and LOCKSTEP_PG_URL is unset.
    globalSetup: ['test/support/pg-global-setup.ts'],
    // PGlite instances take ~2 s to boot; the sim sweep runs for minutes.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // vitest's default (cores - 1) runs one file at a time on 2 cores; the files are CPU-bound sims.
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
