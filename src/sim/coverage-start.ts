import { CoverageRecorder } from './coverage.ts';

/**
 * Imported first by the CLI: with --coverage, V8 precise coverage starts before any production
 * module is evaluated (synchronously: a top-level await would let sibling imports run first).
 */
export const coverage: CoverageRecorder | null = process.argv.includes('--coverage') ? new CoverageRecorder() : null;
coverage?.start();
