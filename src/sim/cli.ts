#!/usr/bin/env node
// First: with --coverage, V8 coverage starts before the production modules run.
import { coverage } from './coverage-start.ts';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { join } from 'node:path';
import { profileNames } from './config.ts';
import { bugs } from './bugs/index.ts';
import { buildConfig, loadScenario, UsageError } from './scenario.ts';
import { openStores } from './stores.ts';
import { runSweep, seedList } from './sweep.ts';
import { readReplayFile, toReplayFile, writeReplayFile } from './replay-file.ts';
import { runSimulation } from './run.ts';
import { shrink } from './shrink.ts';
import { runZoo } from './zoo.ts';

const interactive = Boolean(process.stderr.isTTY) && process.env.CI !== 'true';

const int = (name: string, min = 1) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got "${v}"`);
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
  .option('--seeds <n>', 'number of seeds', int('--seeds'), undefined)
  .option('--clients <n>', 'simulated clients', int('--clients'))
  .option('--steps <n>', 'schedule steps in the chaos phase', int('--steps'))
  .addOption(new Option('--profile <name>', 'fault profile').choices(profileNames as unknown as string[]))
  .option('--scenario <file>', 'scenario file (see scenarios/)', 'scenarios/default.json')
  .addOption(new Option('--server <kind>', 'server store').choices(['pglite', 'postgres']).default('pglite'))
  .option('--bug <name>', 'run against a planted-bug variant (see `lockstep bugs --list`)')
  .option('--out <dir>', 'report directory', 'reports/latest')
  .option('--check-determinism', 'run every seed twice and compare traces')
  .option('--no-shrink', 'do not shrink failing seeds')
  .option('--shrink-budget <seconds>', 'time budget to shrink each failing seed', int('--shrink-budget'), 60)
  .option('--coverage', 'measure which lines and branches of src/engine, src/server, src/protocol and src/db the run reaches (into report.md/html)')
  .option('--timeline <seeds>', 'comma-separated seeds whose timelines report.html draws even if they converge')
  .action(async (o) => {
    const scenario = o.scenario ? loadScenario(o.scenario) : undefined;
    if (o.bug && !bugs.some((b) => b.name === o.bug)) throw new UsageError(`unknown bug "${o.bug}"; known: ${bugs.map((b) => b.name).join(', ')}`);
    const config = buildConfig({ seed: String(o.seed), clients: o.clients, steps: o.steps, profile: o.profile, server: o.server, bug: o.bug, scenario });
    const seeds = seedList(String(o.seed), o.seeds ?? scenario?.seeds ?? 1);
    const stores = await openStores(config.server);
    const bar = interactive ? new cliProgress.SingleBar({ format: 'seeds {bar} {value}/{total} | {failed} failing | {eta_formatted} left', hideCursor: true }, cliProgress.Presets.shades_classic) : null;
    let failed = 0;
    console.log(`lockstep run: ${seeds.length} seed${seeds.length > 1 ? 's' : ''} from ${seeds[0]}, ${config.clients} clients, ${config.steps} steps, profile ${config.profile}, server ${config.server}${config.bug ? `, bug ${config.bug}` : ''}${scenario ? `, scenario ${scenario.name}` : ''}`);
    bar?.start(seeds.length, 0, { failed });
    try {
      const report = await runSweep(config, seeds, stores, {
        outDir: o.out,
        scenario,
        ...(coverage ? { coverage: () => coverage!.take(process.cwd()) } : {}),
        checkDeterminism: Boolean(o.checkDeterminism),
        shrink: o.shrink !== false,
        shrinkBudgetMs: o.shrinkBudget * 1000,
        timelineSeeds: o.timeline ? String(o.timeline).split(',') : seeds.length === 1 ? seeds : [],
        onSeed: (done, total, r) => {
          if (r.verdict === 'violation') failed++;
          if (bar) bar.update(done, { failed });
          else console.log(`seed ${r.seed} (${done}/${total}): ${r.verdict}${r.deterministic ? ', deterministic' : ''} · ${r.stats.events} events, ${r.stats.mutations} mutations, ${r.stats.statements} statements · trace ${r.traceHash} · ${r.stats.wallMs} ms${r.violations[0] ? ` · ${r.violations[0].checker}: ${r.violations[0].message.slice(0, 200)}` : ''}`);
        },
        onShrinkStep: (seed, what, events) => {
          if (!bar) console.log(`  shrink seed ${seed}: ${what} -> ${events} events`);
        },
      });
      bar?.stop();
      const t = report.totals;
      console.log(`\n${t.converged}/${t.seeds} converged in ${(t.wallMs / 1000).toFixed(1)} s; reports in ${o.out}/ (report.json, report.md, report.html)`);
      for (const s of report.seeds.filter((x) => x.verdict === 'violation')) {
        console.log(`  seed ${s.seed}: ${s.violations[0]?.checker}: ${s.violations[0]?.message}`);
        if (s.replayFile) console.log(`    replay: npm run sim -- replay ${s.shrunkReplayFile ?? s.replayFile}${s.shrunkEvents !== undefined ? `   (shrunk ${s.events} -> ${s.shrunkEvents} events in ${s.shrinkSeconds} s)` : ''}`);
      }
      process.exitCode = t.violations > 0 ? 1 : 0;
    } finally {
      bar?.stop();
      await stores.close();
    }
  });

program
  .command('replay <file>')
  .description('reproduce a replay file exactly (exit 1 if the violation reproduces, 0 if the run now converges)')
  .action(async (file: string) => {
    const replay = readReplayFile(file);
    const stores = await openStores(replay.config.server);
    try {
      const r = await runSimulation(replay.config, stores, { schedule: replay.schedule });
      const same = r.traceHash === replay.expected.traceHash;
      console.log(`replay ${file}: seed ${replay.config.seed}, ${replay.schedule.length} events, ${replay.config.clients} clients${replay.config.bug ? `, bug ${replay.config.bug}` : ''}`);
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
  .action(async (file: string, o) => {
    const replay = readReplayFile(file);
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
