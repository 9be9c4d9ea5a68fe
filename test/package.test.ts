/**
 * The package as a user gets it: `npm pack` (which builds lib/), install the tarball into a fresh
 * project outside the repository, then use only the public entry points from there: a TypeScript
 * example that type-checks against the shipped declarations and syncs two engines through a
 * server, and the `lockstep` bin running a simulation. Dependencies come from the npm registry
 * (--prefer-offline: the local npm cache answers when it can).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'lockstep-package-'));
const project = join(dir, 'app');
// This Node (24) first on PATH for npm, npx and the bin; npm_* variables of an enclosing `npm test` stay out.
const env = Object.fromEntries(Object.entries({ ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH}` }).filter(([k]) => !k.startsWith('npm_')));
const sh = (cmd: string, args: string[], cwd: string) => execFileSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });

const example = `
import { PGliteDb, PersistentSyncEngine, defineMutator, type EntityData } from 'lockstep';
import { createSyncServer, localTransport } from 'lockstep/server';
import { useLiveQuery } from 'lockstep/react';
import { SyncApi, defaultHttpLimits } from 'lockstep/http';
import { buildConfig, runSimulation } from 'lockstep/sim';

const server = await createSyncServer();
const open = async () => PersistentSyncEngine.open({ db: await PGliteDb.open(), transport: localTransport(server) });
const a = await open();
const b = await open();
await a.upsert('comment', 'c1', { body: 'from a' });
await b.upsert('comment', 'c2', { body: 'from b' });
await a.increment('review', 'r1', 'votes', 1);
await b.increment('review', 'r1', 'votes', 2);
for (const e of [a, b, a, b]) await e.sync();
const va: Map<string, EntityData> = await a.visibleEntities();
const vb = await b.visibleEntities();
// @ts-expect-error the declarations are real types, not any: a Map is not a number.
const wrong: number = va;
void wrong;
const same = JSON.stringify([...va].sort()) === JSON.stringify([...vb].sort());
// The simulator's library entry (the bin below runs it): a seed's configuration.
const sim = buildConfig({ seed: '1', steps: 10, clients: 2 });
console.log(JSON.stringify({ same, entities: Object.fromEntries(va), sim: [sim.clients, typeof runSimulation], exports: [typeof useLiveQuery, typeof SyncApi, defaultHttpLimits.maxBodyBytes, typeof defineMutator] }));
await a.close();
await b.close();
await server.close();
`;

// The README's quick start: an app's own mutator, workload and invariant, run by the installed bin.
const votes = readFileSync(join(repo, 'examples', 'votes', 'votes.sim.ts'), 'utf8');

// The harness's library calls from an installed package: seeds on two workers (the built worker.js
// loading votes.sim.ts by path) and a fast-check property over generated schedules.
const harness = `
import { checkSimulation, checkSimulationProperty, simulationSchedule } from 'lockstep/sim';
import votes from './votes.sim.ts';

const seeds = await checkSimulation(votes, { seeds: 2, steps: 20, clients: 2, workers: 2, outDir: 'harness-out', env: {} });
const property = await checkSimulationProperty(votes, { numRuns: 2, maxEvents: 8, clients: 2, outDir: 'harness-out', env: {} });
console.log(JSON.stringify({ seeds: [seeds.ok, seeds.seedsRun], property: [property.ok, property.numRuns], arbitrary: typeof simulationSchedule }));
`;

beforeAll(() => {
  const packed = sh('npm', ['pack', '--silent', '--pack-destination', dir], repo).trim().split('\n').pop()!;
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'lockstep-user', private: true, type: 'module' }));
  sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', join(dir, packed)], project);
  writeFileSync(join(project, 'example.ts'), example);
  writeFileSync(join(project, 'votes.sim.ts'), votes);
  writeFileSync(join(project, 'harness.ts'), harness);
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2023', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, allowImportingTsExtensions: true, lib: ['ES2024', 'DOM'], types: ['node'] }, files: ['example.ts', 'votes.sim.ts', 'harness.ts'] }));
}, 600_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the packed package', () => {
  it('ships built JavaScript and declarations, not the TypeScript sources', () => {
    const pkg = join(project, 'node_modules', 'lockstep');
    for (const f of ['lib/public/index.js', 'lib/public/index.d.ts', 'lib/public/sim.js', 'lib/public/sim-vitest.js', 'lib/sim/cli.js', 'lib/sim/parallel/worker.js', 'lib/sim/app/property.js', 'scenarios/default.json', 'bin/lockstep.mjs']) expect(existsSync(join(pkg, f)), f).toBe(true);
    expect(existsSync(join(pkg, 'src'))).toBe(false);
    expect(readFileSync(join(pkg, 'lib/public/sim.d.ts'), 'utf8')).not.toMatch(/from '\.{1,2}\/[^']*\.ts'/);
  });

  it('type-checks an example against the public entry points', () => {
    // The repository's TypeScript, with @types/node linked in from the repository.
    execFileSync('ln', ['-s', join(repo, 'node_modules', '@types'), join(project, 'node_modules', '@types')]);
    const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
    expect(() => sh(process.execPath, [tsc, '-p', '.'], project)).not.toThrow();
  });

  it('runs the example: a server, two engines over localTransport, writes, sync, convergence', () => {
    const out = JSON.parse(sh(process.execPath, ['example.ts'], project).trim().split('\n').pop()!);
    expect(out.same).toBe(true);
    expect(out.entities).toEqual({ 'comment/c1': { body: 'from a' }, 'comment/c2': { body: 'from b' }, 'review/r1': { votes: 3 } });
    expect(out.sim).toEqual([2, 'function']);
    expect(out.exports).toEqual(['function', 'function', 1_000_000, 'function']);
  });

  it('runs `npx lockstep run` from the installed bin and exits 0', () => {
    const out = join(project, 'report');
    const log = sh('npx', ['lockstep', 'run', '--seeds', '1', '--steps', '20', '--out', out], project);
    expect(log).toMatch(/1\/1 converged/);
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).totals.converged).toBe(1);
  });

  it('runs the quick start: `npx lockstep run --sim votes.sim.ts` loads the TypeScript file and checks its invariant', () => {
    const out = join(project, 'votes-report');
    const log = sh('npx', ['lockstep', 'run', '--sim', 'votes.sim.ts', '--seeds', '1', '--steps', '30', '--clients', '3', '--workers', '1', '--out', out], project);
    expect(log).toMatch(/simulation votes v1 \(votes.sim.ts\)/);
    expect(log).toMatch(/1\/1 converged/);
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).seeds[0].stats.checks['votes/every-vote-counts']).toBe(1);
  });

  it('runs a simulation on two workers and as a fast-check property from the installed package', () => {
    const out = JSON.parse(sh(process.execPath, ['harness.ts'], project).trim().split('\n').pop()!);
    expect(out).toEqual({ seeds: [true, 2], property: [true, 2], arbitrary: 'function' });
  });
});
