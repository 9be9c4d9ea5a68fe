#!/usr/bin/env node
// Builds lib/ (JavaScript and declarations) with tsc, then points the declarations' relative
// imports at .js: tsc rewrites '.ts' specifiers in the JavaScript but leaves them in .d.ts files,
// which a consumer's TypeScript (without allowImportingTsExtensions) would refuse.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const lib = join(root, 'lib');
rmSync(lib, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

let files = 0;
for (const entry of readdirSync(lib, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue;
  const path = join(entry.parentPath, entry.name);
  const text = readFileSync(path, 'utf8');
  const fixed = text.replace(/((?:from |import\()\s*['"])(\.{1,2}\/[^'"]*?)\.tsx?(['"])/g, '$1$2.js$3');
  if (fixed !== text) writeFileSync(path, fixed);
  files++;
}
console.log(`lib/: built, ${files} declaration files`);
