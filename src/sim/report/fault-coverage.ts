import type { Report } from './schema.ts';
import { faultModules } from '../faults/index.ts';
import { messageFaults } from '../faults/network-faults.ts';
import { checkerModules } from '../checkers/index.ts';

/** Variants and side effects counted beside the scheduled faults, with what each is. */
const counted: Record<string, string> = {
  close: 'a client crash that was a graceful close (engine.close()) and reopen',
  'offline-app-knows': 'an offline period the app told the engine about (setOnline)',
  duplicate: 'a request delivered twice',
  'lost-ack': 'a response lost after the server committed',
  drop: 'a request lost on the way (the client times out)',
  'partition-timeout': 'a request that hung in a partition until the timeout',
  'lost-unflushed': 'a write a deferred-mode engine had not stored yet when its client crashed (lost, never acknowledged: counted per write)',
  'push-cut-short': 'a push the server cut short at its work budget (serverProcess.limits.maxMutationsPerPush); the client sent the rest',
};

/**
 * The sweep's fault coverage: every fault the simulator knows, how often it happened and in how
 * many seeds (a fault that never happened is named, so a gap shows), then every checker: how often
 * it looked and how many violations it found.
 */
export function faultCoverageLines(r: Report): string[] {
  const t = r.totals;
  const happened = t.faults ?? {};
  const seedsWith = (k: string, of: 'faults' | 'checks') => r.seeds.filter((s) => ((of === 'faults' ? s.stats.faults : s.stats.checks) ?? {})[k]! > 0).length;
  const known = [
    ...faultModules.map((m) => [m.kind, `scheduled (config.faults.${m.rate})`] as const),
    ...messageFaults.flatMap((f) => f.traceKinds.map((k) => [k, `per message (network.${f.rate})`] as const)),
    ...Object.entries(counted),
  ];
  const names = new Set(known.map(([k]) => k));
  const rows = [...known, ...Object.keys(happened).filter((k) => !names.has(k)).sort().map((k) => [k, 'observed'] as const)];
  const seen = new Set<string>();
  const lines = ['', '## Fault coverage of the sweep', '', '| fault | what | happened | seeds |', '|---|---|---|---|'];
  for (const [k, what] of rows) {
    if (seen.has(k)) continue;
    seen.add(k);
    const n = happened[k] ?? 0;
    lines.push(`| ${k} | ${what} | ${n ? n : '**never**'} | ${n ? seedsWith(k, 'faults') : 0} |`);
  }
  const never = rows.filter(([k]) => !(happened[k] ?? 0)).map(([k]) => k);
  lines.push('', never.length ? `Never happened in this sweep: ${[...new Set(never)].join(', ')}.` : 'Every known fault happened at least once.');
  const checks = t.checks ?? {};
  const checkers = [...new Set([...checkerModules.map((m) => m.name), ...Object.keys(checks), ...Object.keys(t.byChecker)])];
  lines.push('', '| checker | looks | seeds | violations |', '|---|---|---|---|');
  for (const k of checkers) lines.push(`| ${k} | ${checks[k] ?? 0} | ${seedsWith(k, 'checks')} | ${t.byChecker[k] ?? 0} |`);
  return lines;
}
