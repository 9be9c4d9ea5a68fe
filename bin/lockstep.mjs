#!/usr/bin/env node
// The lockstep CLI. An installed package runs the built JavaScript in lib/; inside the repository
// without a build (lib/ is not committed) it runs the TypeScript sources through tsx's loader.
import { existsSync } from 'node:fs';

const built = new URL('../lib/sim/cli.js', import.meta.url);
if (existsSync(built) && process.env.LOCKSTEP_FROM_SOURCE !== '1') {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/sim/cli.ts');
}
