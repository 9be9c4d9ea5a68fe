import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Starts a private PostgreSQL when the binaries are installed and LOCKSTEP_PG_URL is unset.
    globalSetup: ['test/support/pg-global-setup.ts'],
    // PGlite instances take ~2 s to boot; the sim sweep runs for minutes.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
