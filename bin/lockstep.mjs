#!/usr/bin/env node
// The lockstep CLI. An installed package (no src/ in it) runs the built JavaScript in lib/; a
// checkout of the repository runs its TypeScript sources through tsx, so a stale lib/ never answers.
import { existsSync } from 'node:fs';

const source = new URL('../src/sim/cli.ts', import.meta.url);
if (existsSync(source) && process.env.LOCKSTEP_BUILT !== '1') {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import(new URL('../lib/sim/cli.js', import.meta.url).href);
}
