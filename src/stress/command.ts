import { InvalidArgumentError, Option, type Command } from 'commander';
import { findBug } from '../sim/bugs/index.ts';
import { runStress } from './run.ts';

const num = (name: string, min: number, max = Infinity) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}], got "${v}"`);
  return n;
};

/** `lockstep stress`: hooked into the simulator's CLI (src/sim/cli.ts). Exit 1 on a violation. */
export function addStressCommand(program: Command): void {
  program
    .command('stress')
    .description('not deterministic: many real engines against several real server instances at once, with network faults; then heal and check (exit 1 on a violation)')
    .addOption(new Option('--server <kind>', 'server store').choices(['postgres', 'pglite']).default('postgres'))
    .option('--servers <n>', 'server instances (separate pools on PostgreSQL)', num('--servers', 1, 64), 4)
    .option('--clients <n>', 'client engines (one PGlite, a schema each)', num('--clients', 1, 1000), 32)
    .option('--seconds <s>', 'length of the load phase', num('--seconds', 1), 60)
    .option('--drop <p>', 'chance a request is dropped', num('--drop', 0, 1), 0.05)
    .option('--lost-ack <p>', 'chance a response is lost after the server committed', num('--lost-ack', 0, 1), 0.05)
    .option('--duplicate <p>', 'chance a request is delivered twice', num('--duplicate', 0, 1), 0.05)
    .option('--pool <n>', 'pg connections per server instance', num('--pool', 1, 100), 4)
    .option('--heal-rounds <n>', 'most sync rounds after the faults stop', num('--heal-rounds', 1), 50)
    .option('--seed <seed>', 'picks operations and faults (the interleaving is not reproducible)', String(Date.now()))
    .option('--bug <name>', 'run against a planted-bug server variant (see `lockstep bugs --list`)')
    .option('--out <dir>', 'where history.json goes', 'reports/stress')
    .action(async (o) => {
      const r = await runStress({
        server: o.server, servers: o.servers, clients: o.clients, seconds: o.seconds, poolSize: o.pool, healRounds: o.healRounds,
        faults: { drop: o.drop, lostAck: o.lostAck, duplicate: o.duplicate }, outDir: o.out, seed: String(o.seed), bug: o.bug ? findBug(o.bug) : undefined,
      });
      const t = r.transport;
      console.log(`load ${r.loadSeconds.toFixed(1)} s: ${r.mutations} local mutations (${(r.mutations / r.loadSeconds).toFixed(0)}/s), ${r.applied} in the server log after heal, ${r.pushes} pushes (${(r.pushes / r.loadSeconds).toFixed(0)}/s), ${r.pulls} pulls (${(r.pulls / r.loadSeconds).toFixed(0)}/s)`);
      console.log(`faults: ${t.drops} dropped, ${t.lostAcks} lost acks, ${t.duplicates} duplicated; heal ${r.healSeconds.toFixed(1)} s`);
      if (r.violations.length === 0) console.log(`no violations; history in ${r.historyFile}`);
      else {
        console.log(`${r.violations.length} violation(s); the recorded history is in ${r.historyFile}`);
        for (const v of r.violations.slice(0, 20)) console.log(`  ${v.checker}: ${v.message}`);
      }
      process.exitCode = r.violations.length ? 1 : 0;
    });
}
