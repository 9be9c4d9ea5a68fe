import type { Violation } from './checkers/types.ts';
import { failedLane } from './scheduler.ts';

/**
 * Violations are made here, so that every checker, live or final, and every unexpected exception
 * reports in one shape (the report, the shrinker and replay files compare `checker`).
 */
export function violation(checker: string, message: string, where: Omit<Violation, 'checker' | 'message'> = {}): Violation {
  return { checker, message, ...where };
}

/** Which production layer threw: the innermost stack frame in src/engine or src/server decides. */
export function errorChecker(e: unknown, fallback: 'engine-error' | 'server-error' | 'sim-error' = 'sim-error'): 'engine-error' | 'server-error' | 'sim-error' {
  const stack = e instanceof Error ? (e.stack ?? '') : '';
  for (const line of stack.split('\n').slice(1)) {
    if (/[/\\]src[/\\](engine)[/\\]/.test(line)) return 'engine-error';
    if (/[/\\]src[/\\](server)[/\\]/.test(line)) return 'server-error';
  }
  return fallback;
}

/** Frames from the project's own source, without node internals and the scheduler's plumbing. */
function shortStack(e: unknown): string {
  const stack = e instanceof Error ? (e.stack ?? '') : '';
  return stack
    .split('\n')
    .slice(1)
    .filter((l) => /[/\\]src[/\\]/.test(l))
    .slice(0, 8)
    .map((l) => l.trim().replace(/^at /, '').replace(/\(?(?:file:\/\/)?\/.*?[/\\](src[/\\][^:]+:\d+):\d+\)?/, '$1'))
    .join(' < ');
}

/** An exception out of production code during a seed: a finding of that seed, with where it came from. */
export function exceptionViolation(e: unknown, where: Omit<Violation, 'checker' | 'message'> = {}, fallback?: 'engine-error' | 'server-error'): Violation {
  const message = e instanceof Error ? e.message : String(e);
  const stack = shortStack(e);
  const lane = where.lane ?? (e instanceof Error ? failedLane.get(e) : undefined);
  return violation(errorChecker(e, fallback), stack ? `${message} (at ${stack})` : message, { ...where, ...(lane ? { lane } : {}) });
}
