#!/usr/bin/env node
// First: with --coverage, V8 coverage starts before the production modules run.
import { coverage } from './coverage-start.ts';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { profileNames, type SimConfig } from './config.ts';
import { bugs } from './bugs/index.ts';
import { buildConfig, loadScenario, UsageError } from './scenario.ts';
import { openStores } from './stores.ts';
import { sweepWith } from './sweep.ts';
import { localRunner } from './parallel/seed-runner.ts';
import { defaultWorkers, workerPool } from './parallel/pool.ts';
import { parseShard, seedPlan, type Shard } from './parallel/shard.ts';
import { Progress } from './parallel/progress.ts';
import { mergeReportDirs } from './report/merge.ts';
import { readReplayFile, toReplayFile, writeReplayFile } from './replay-file.ts';
import { runSimulation } from './run.ts';
import { defaultBudget, defaultStallMs, stepsPerClient } from './run-guard.ts';
import { shrink } from './shrink.ts';
import { runZoo } from './zoo.ts';
import { addStressCommand } from '../stress/command.ts';
import { describeSim, simForReplay, simForRun } from './app/cli.ts';

// The package's own default scenario, so that the installed CLI works from any directory.
const defaultScenario = fileURLToPath(new URL('../../scenarios/default.json', import.meta.url));
// How to call this CLI again in printed commands: from the sources in this repository, or installed.
const cliName = import.meta.url.endsWith('.ts') ? 'npm run sim --' : 'npx lockstep';

const int = (name: string, min = 1) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got "${v}"`);
  return n;
};

const positive = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a number > 0, got "${v}"`);
  return n;
};

const program = new Command('lockstep')
  .description('Deterministic simulation of the Lockstep sync engine: seeded runs with faults, convergence checks, replay, shrinking.')
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

program
  .command('run', { isDefault: true })
  .description('run seeded simulations and write reports (exit 0: all converged, 1: a violation, 2: bad usage)')
  .option('--seed <seed>', 'first seed (integer or string)', '1')
  .option('--seeds <n>', 'number of seeds (default: the scenario\'s, else 1; with --minutes, no limit)', int('--seeds'), undefined)
  .option('--clients <n>', 'simulated clients', int('--clients'))
  .option('--steps <n>', 'schedule steps in the chaos phase', int('--steps'))
  .addOption(new Option('--profile <name>', 'fault profile').choices(profileNames as unknown as string[]))
  .option('--scenario <file>', 'scenario file (default: scenarios/default.json of the package)')
  .option('--sim <file>', 'an app simulation module (defineSimulation from lockstep/sim; FILE#export for a named export)')
  .addOption(new Option('--server <kind>', 'server store').choices(['pglite', 'postgres']).default('pglite'))
  .option('--bug <name>', 'run against a planted-bug variant (see `lockstep bugs --list`)')
  .option('--out <dir>', 'report directory', 'reports/latest')
  .option('--check-determinism', 'run every seed twice and compare traces')
  .option('--workers <n>', `worker processes, each with its own databases (default: the number of cores, ${defaultWorkers()} here; 1 runs in this process)`, int('--workers'))
  .option('--shard <i/n>', 'run only shard i of n of the seeds (strided: positions i-1, i-1+n, ...); combine shards with `lockstep merge`', parseShard)
  .option('--bail', 'stop starting seeds after the first failure')
  .option('--max-failures <n>', 'stop starting seeds once N seeds have failed', int('--max-failures'))
  .option('--minutes <n>', 'campaign: keep starting seeds until N minutes have passed (decimals allowed)', positive('--minutes'))
  .option('--no-shrink', 'do not shrink failing seeds')
  .option('--shrink-first <k>', 'shrink only the first K failing seeds, in seed order', int('--shrink-first', 0), 3)
  .option('--shrink-budget <seconds>', 'time budget to shrink each failing seed', int('--shrink-budget'), 60)
  .option('--coverage', 'measure which lines and branches of src/engine, src/server, src/protocol and src/db the run reaches (into report.md/html); runs in one process')
  .option('--coverage-pg-seeds <n>', 'with --coverage and LOCKSTEP_PG_URL set: also run this many seeds on PostgreSQL (src/db/postgres.ts)', int('--coverage-pg-seeds'), 3)
  .option('--seed-max-steps <n>', `a seed past this many scheduler steps is a seed-timeout finding (default ${stepsPerClient.toLocaleString('en')} per client, at least ${defaultBudget.maxSteps.toLocaleString('en')})`, int('--seed-max-steps'))
  .option('--seed-max-virtual-seconds <n>', `a seed past this much virtual time is a seed-timeout finding (default ${defaultBudget.maxVirtualMs / 1000})`, int('--seed-max-virtual-seconds'))
  .option('--seed-stall-seconds <n>', `a seed with no scheduler step for this long (wall clock: a promise that never settles) is a seed-timeout finding (default ${defaultStallMs / 1000})`, positive('--seed-stall-seconds'))
  .option('--timeline <seeds>', 'comma-separated seeds whose timelines report.html draws even if they converge')
  .action(async (o) => {
    let scenario = loadScenario(o.scenario ?? defaultScenario);
    if (o.bug && !bugs.some((b) => b.name === o.bug)) throw new UsageError(`unknown bug "${o.bug}"; known: ${bugs.map((b) => b.name).join(', ')}`);
    // An app simulation: its fault defaults sit between the scenario and the flags; workers load it by the path in the config.
    const app = o.sim ? await simForRun(String(o.sim), scenario) : undefined;
    if (app) scenario = app.scenario;
    const budget = { ...(o.seedMaxSteps ? { maxSteps: o.seedMaxSteps } : {}), ...(o.seedMaxVirtualSeconds ? { maxVirtualMs: o.seedMaxVirtualSeconds * 1000 } : {}) };
    const input = { clients: o.clients, steps: o.steps, profile: o.profile, server: o.server, bug: o.bug, scenario, ...(app ? { simulation: app.ref } : {}), ...(Object.keys(budget).length ? { budget } : {}) };
    // Each seed builds its own configuration (swarm draws its mix from the seed), in whichever process runs it.
    const configFor = (seed: string) => buildConfig({ ...input, seed });
    const first = String(o.seed);
    const config = configFor(first);
    const durationMs = o.minutes !== undefined ? o.minutes * 60_000 : undefined;
    const total: number | undefined = o.seeds ?? (durationMs !== undefined ? undefined : (scenario.seeds ?? 1));
    const shard: Shard = o.shard ?? { index: 1, count: 1 };
    const plan = seedPlan(first, total, shard);
    // V8 coverage is measured in this process: with --coverage every seed runs here.
    if (coverage && (o.workers ?? 1) > 1) console.log(`--coverage runs every seed in this process: --workers ${o.workers} ignored`);
    const workers = coverage ? 1 : Math.max(1, Math.min(o.workers ?? defaultWorkers(), plan.count ?? Infinity));
    const what = `${plan.count ?? 'unlimited'} seed${plan.count === 1 ? '' : 's'} from ${plan.at(0) ?? first}${shard.count > 1 ? ` (shard ${shard.index}/${shard.count}, strided)` : ''}${durationMs !== undefined ? `, for ${o.minutes} min` : ''}`;
    console.log(`lockstep run: ${what}, ${config.clients} clients, ${config.steps} steps, profile ${config.profile}, server ${config.server}${config.bug ? `, bug ${config.bug}` : ''}${describeSim(config.simulation)}, scenario ${scenario.name}, ${workers} worker${workers > 1 ? 's' : ''}`);
    const stores = workers > 1 ? undefined : await openStores(config.server);
    const runner = stores ? localRunner(configFor, stores) : await workerPool(workers, { input });
    let stopReason: string | undefined;
    let pgFailures = 0;
    // Started once the databases are up, so that seeds/s and the ETA measure seeds only.
    const progress = new Progress(plan.count, durationMs);
    try {
      const report = await sweepWith(runner, plan, configFor, {
        outDir: o.out,
        scenario,
        ...(coverage ? { coverage: async () => {
          // src/db/postgres.ts runs only on PostgreSQL: with LOCKSTEP_PG_URL a few seeds run there too.
          pgFailures = await coveragePostgresSeeds(configFor, plan.at(0) ?? first, config.server === 'pglite' ? o.coveragePgSeeds : 0);
          return coverage!.take(process.cwd());
        } } : {}),
        checkDeterminism: Boolean(o.checkDeterminism),
        ...(o.seedStallSeconds !== undefined ? { stallMs: o.seedStallSeconds * 1000 } : {}),
        shrink: o.shrink !== false,
        shrinkFirst: o.shrinkFirst,
        shrinkBudgetMs: o.shrinkBudget * 1000,
        bail: Boolean(o.bail),
        maxFailures: o.maxFailures,
        durationMs,
        timelineSeeds: o.timeline ? String(o.timeline).split(',') : plan.count === 1 ? [plan.at(0)!] : [],
        onSeed: (done, _total, r) => progress.seed(done, r),
        onShrinkStep: (seed, step, events) => {
          if (!progress.bar) console.log(`  shrink seed ${seed}: ${step} -> ${events} events`);
        },
        onStop: (reason) => {
          stopReason = reason;
        },
      });
      progress.stop();
      const t = report.totals;
      console.log(`\n${t.converged}/${t.seeds} converged in ${(t.wallMs / 1000).toFixed(1)} s (${(t.seeds / (t.wallMs / 1000)).toFixed(2)} seeds/s on ${workers} worker${workers > 1 ? 's' : ''})${stopReason ? `; stopped early: ${stopReason}` : ''}; reports in ${o.out}/ (report.json, report.md, report.html)`);
      if (workers > 1) console.log(`peak RSS per worker: ${runner.peakRss().map((b) => `${Math.round(b / 2 ** 20)} MB`).join(', ')}`);
      const failing = report.seeds.filter((x) => x.verdict === 'violation');
      for (const s of failing.slice(0, 20)) {
        console.log(`  seed ${s.seed}: ${s.violations[0]?.checker}: ${s.violations[0]?.message}`);
        if (s.replayFile) console.log(`    replay: ${cliName} replay ${s.shrunkReplayFile ?? s.replayFile}${s.shrunkEvents !== undefined ? `   (shrunk ${s.events} -> ${s.shrunkEvents} events in ${s.shrinkSeconds} s)` : ''}`);
      }
      if (failing.length > 20) console.log(`  (${failing.length - 20} more failing seeds in ${o.out}/report.md)`);
      process.exitCode = t.violations > 0 || pgFailures > 0 ? 1 : 0;
    } finally {
      progress.stop();
      await runner.close();
      await stores?.close();
    }
  });

program
  .command('merge <dirs...>')
  .description('combine report directories of shards into one report.json/md/html (exit 1 if a merged seed failed, 2 on bad input)')
  .option('--out <dir>', 'merged report directory', 'reports/merged')
  .action((dirs: string[], o) => {
    const { report, warnings } = mergeReportDirs(dirs, o.out);
    for (const w of warnings) console.log(`warning: ${w}`);
    const t = report.totals;
    console.log(`merged ${dirs.length} report${dirs.length > 1 ? 's' : ''}: ${t.converged}/${t.seeds} converged; reports in ${o.out}/ (report.json, report.md, report.html)`);
    for (const s of report.seeds.filter((x) => x.verdict === 'violation').slice(0, 20)) {
      console.log(`  seed ${s.seed}: ${s.violations[0]?.checker}: ${s.violations[0]?.message}${s.replayFile ? `\n    replay: ${cliName} replay ${s.shrunkReplayFile ?? s.replayFile}` : ''}`);
    }
    process.exitCode = t.violations > 0 ? 1 : 0;
  });

program
  .command('replay <file>')
  .description('reproduce a replay file exactly (exit 1 if the violation reproduces, 0 if the run now converges)')
  .option('--sim <file>', 'the app simulation it belongs to (default: the file it records; another name or version is refused)')
  .action(async (file: string, o) => {
    const replay = readReplayFile(file);
    await simForReplay(replay, file, o.sim);
    const stores = await openStores(replay.config.server);
    try {
      const r = await runSimulation(replay.config, stores, { schedule: replay.schedule });
      const same = r.traceHash === replay.expected.traceHash;
      console.log(`replay ${file}: seed ${replay.config.seed}, ${replay.schedule.length} events, ${replay.config.clients} clients${replay.config.bug ? `, bug ${replay.config.bug}` : ''}${describeSim(replay.config.simulation)}`);
      console.log(`trace ${r.traceHash} ${same ? '== recorded (exact reproduction)' : `!= recorded ${replay.expected.traceHash} (the code or schedule changed since it was recorded)`}`);
      console.log(`verdict: ${r.verdict} (recorded: ${replay.expected.verdict})`);
      for (const v of r.violations.slice(0, 10)) console.log(`  ${v.checker}${v.t !== undefined ? ` at ${v.t} ms` : ''}: ${v.message}`);
      process.exitCode = r.verdict === 'violation' ? 1 : 0;
    } finally {
      await stores.close();
    }
  });

program
  .command('shrink <file>')
  .description('minimise a failing replay file while the same kind of violation still occurs')
  .option('--out <file>', 'where to write the minimal replay file (default: <file>.min.json)')
  .option('--budget <seconds>', 'time budget', int('--budget'), 300)
  .option('--sim <file>', 'the app simulation it belongs to (default: the file it records; another name or version is refused)')
  .action(async (file: string, o) => {
    const replay = readReplayFile(file);
    await simForReplay(replay, file, o.sim);
    const stores = await openStores(replay.config.server);
    try {
      const r = await runSimulation(replay.config, stores, { schedule: replay.schedule });
      if (r.verdict !== 'violation') {
        console.log(`${file} converges now: nothing to shrink`);
        return;
      }
      console.log(`shrinking ${file}: ${r.schedule.length} events, ${r.config.clients} clients, violation ${r.violations[0]!.checker}`);
      const s = await shrink(r, stores, { budgetMs: o.budget * 1000, onStep: (st) => console.log(`  ${(st.elapsedMs / 1000).toFixed(1)} s: ${st.what} -> ${st.events} events, ${st.clients} clients`) });
      const out = o.out ?? file.replace(/\.json$/, '') + '.min.json';
      writeReplayFile(out, toReplayFile(s.result, { events: r.schedule.length, clients: r.config.clients }));
      console.log(`${s.complete ? 'minimal' : 'budget spent'}: ${r.schedule.length} -> ${s.result.schedule.length} events, ${r.config.clients} -> ${s.result.config.clients} clients, ${s.trials} trials, ${(s.elapsedMs / 1000).toFixed(1)} s`);
      console.log(`violation: ${s.result.violations[0]?.checker}: ${s.result.violations[0]?.message}`);
      console.log(`wrote ${out}`);
    } finally {
      await stores.close();
    }
  });

program
  .command('bugs')
  .description('run every planted-bug variant until the harness catches it; exit 1 if any escapes the budget')
  .option('--list', 'print the variant names, one a line')
  .option('--budget-seeds <n>', 'most seeds per bug', int('--budget-seeds'), 200)
  .option('--budget-seconds <s>', 'most seconds per bug', int('--budget-seconds'), 120)
  .option('--only <names>', 'comma-separated subset of variants')
  .option('--shrink-budget <seconds>', 'time budget to shrink each caught bug', int('--shrink-budget'), 120)
  .option('--out <dir>', 'where the table goes', 'reports')
  .action(async (o) => {
    if (o.list) {
      for (const b of bugs) console.log(b.name);
      return;
    }
    const only = o.only ? String(o.only).split(',') : undefined;
    for (const n of only ?? []) if (!bugs.some((b) => b.name === n)) throw new UsageError(`unknown bug "${n}"`);
    const stores = await openStores('pglite');
    try {
      const rows = await runZoo(stores, {
        bugs: only ? bugs.filter((b) => only.includes(b.name)) : bugs,
        budgetSeeds: o.budgetSeeds,
        budgetSeconds: o.budgetSeconds,
        shrinkBudgetMs: o.shrinkBudget * 1000,
        outDir: o.out,
        onRow: (r) => console.log(`${r.caught ? 'caught ' : 'ESCAPED'} ${r.bug}: ${r.seedsTried} seeds, ${r.secondsToDetection} s${r.caught ? `, ${r.violation}, shrunk ${r.events} -> ${r.shrunkEvents} events` : ''}`),
      });
      const escaped = rows.filter((r) => !r.caught);
      console.log(`\n${rows.length - escaped.length}/${rows.length} planted bugs caught; table in ${join(o.out, 'bugs.md')}`);
      process.exitCode = escaped.length ? 1 : 0;
    } finally {
      await stores.close();
    }
  });

// Not part of the simulator: the non-deterministic stress mode (src/stress).
addStressCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else if (e instanceof UsageError) {
    console.error(`lockstep: ${e.message}`);
    process.exitCode = 2;
  } else {
    console.error(e);
    process.exitCode = 2;
  }
}

/** With --coverage: `count` more seeds (from `from`) on PostgreSQL when LOCKSTEP_PG_URL is set; returns how many failed. */
async function coveragePostgresSeeds(configFor: (seed: string) => SimConfig, from: string, count: number): Promise<number> {
  if (count <= 0) return 0;
  if (!process.env.LOCKSTEP_PG_URL) {
    console.log('coverage: LOCKSTEP_PG_URL is not set, so src/db/postgres.ts is not measured (npm run pg:start prints one)');
    return 0;
  }
  const stores = await openStores('postgres');
  let failed = 0;
  try {
    for (let i = 0; i < count; i++) {
      const seed = String(Number(from) + i);
      const r = await runSimulation({ ...configFor(seed), server: 'postgres' }, stores);
      if (r.verdict !== 'converged') failed++;
      console.log(`coverage: postgres seed ${seed}: ${r.verdict}${r.violations[0] ? ` (${r.violations[0].checker}: ${r.violations[0].message.slice(0, 200)})` : ''} · trace ${r.traceHash}`);
    }
  } finally {
    await stores.close();
  }
  return failed;
}
