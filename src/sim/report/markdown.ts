import type { Report } from './schema.ts';
import { describeMix } from '../config.ts';
import { byFolder } from '../coverage.ts';
import { faultCoverageLines } from './fault-coverage.ts';

const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** A short summary fit for a CI log: totals, then a row per failing seed (or the first seeds if all passed). */
export function renderMarkdown(r: Report): string {
  const t = r.totals;
  const lines = [
    `# Lockstep convergence report`,
    '',
    `${t.converged}/${t.seeds} seeds converged · profile \`${r.config.profile}\`${r.config.bug ? ` · bug \`${r.config.bug}\`` : ''} · ${r.config.clients} clients · ${r.config.steps} steps · server ${r.config.server} · ${(t.wallMs / 1000).toFixed(1)} s · lockstep ${r.version} (${r.commit})`,
    '',
  ];
  if (Object.keys(t.byChecker).length) {
    lines.push(`Violations by checker: ${Object.entries(t.byChecker).map(([k, v]) => `${k} ${v}`).join(', ')}`, '');
  }
  const failing = r.seeds.filter((s) => s.verdict === 'violation');
  const shown = failing.length ? failing : r.seeds.slice(0, 10);
  lines.push('| seed | verdict | trace hash | events | mutations | pushes | pulls | faults | virtual s | wall ms | mix | first violation |', '|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const s of shown.slice(0, 50)) {
    const faults = Object.values(s.stats.faults).reduce((a, b) => a + b, 0);
    const v = s.violations[0];
    const shrunk = s.shrunkEvents !== undefined ? ` (shrunk ${s.events}→${s.shrunkEvents} events: ${s.shrunkReplayFile})` : s.replayFile ? ` (${s.replayFile})` : '';
    lines.push(`| ${s.seed} | ${s.verdict} | \`${s.traceHash}\` | ${s.stats.events} | ${s.stats.mutations} | ${s.stats.pushes} | ${s.stats.pulls} | ${faults} | ${(s.stats.virtualMs / 1000).toFixed(1)} | ${s.stats.wallMs} | ${s.mix ? esc(describeMix(s.mix)) : ''} | ${v ? esc(`${v.checker}: ${v.message}`).slice(0, 300) + shrunk : ''} |`);
  }
  if (!failing.length && r.seeds.length > shown.length) lines.push('', `(${r.seeds.length - shown.length} more converged seeds in report.json)`);
  lines.push(...faultCoverageLines(r));
  if (r.coverage?.length) {
    lines.push('', '## Production coverage by the simulator', '', '| file | lines | branches | unreached lines |', '|---|---|---|---|');
    const pct = (c: { covered: number; total: number }) => `${c.covered}/${c.total} (${c.total ? ((100 * c.covered) / c.total).toFixed(1) : '100.0'}%)`;
    for (const f of [...byFolder(r.coverage).map((x) => ({ ...x, file: `**${x.file}/**` })), ...r.coverage]) lines.push(`| ${f.file} | ${pct(f.lines)} | ${pct(f.branches)} | ${esc(f.unreached)} |`);
  }
  return lines.join('\n') + '\n';
}
