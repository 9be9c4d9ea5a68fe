import type { TraceEvent } from '../scheduler.ts';
import type { Report } from './schema.ts';
import { describeMix } from '../config.ts';
import { byFolder } from '../coverage.ts';
import { faultReport } from '../faults/index.ts';

export interface Timeline {
  title: string;
  seed: string;
  trace: TraceEvent[];
  violations: { checker: string; message: string; lane?: string; t?: number }[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Mark colour per event family; faults are red-ish, sync traffic blue, local writes green. */
function colour(kind: string): string {
  if (kind === 'violation') return '#d00';
  const fault = faultReport.colours.get(kind);
  if (fault) return fault;
  if (kind === 'mutation') return '#2a9d3a';
  if (kind.startsWith('push')) return '#1f6fd1';
  if (kind.startsWith('pull')) return '#7a4fd1';
  if (['crash', 'wipe', 'refused', 'error', 'engine-error'].includes(kind)) return '#b5179e';
  if (['restart'].includes(kind)) return '#555';
  if (['drop', 'lost-ack', 'partitioned', 'sync-error'].includes(kind)) return '#e07b00';
  if (['offline', 'partition', 'skew'].includes(kind)) return '#999';
  return '#444';
}

const periodKinds: Record<string, string> = faultReport.periods;

function svgTimeline(tl: Timeline, index: number): string {
  const lanes = ['server', ...[...new Set(tl.trace.map((e) => e.lane).filter((l) => l !== 'server' && l !== 'sim'))].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))), 'sim'];
  // The axis spans the events, not the quiet time before the first one.
  // A loop, not Math.min(...): a runaway seed's trace has hundreds of thousands of events (too many arguments).
  let tMin = Infinity;
  let tMax = -Infinity;
  for (const e of tl.trace) {
    tMin = Math.min(tMin, e.t);
    tMax = Math.max(tMax, e.t);
  }
  for (const v of tl.violations) tMin = Math.min(tMin, v.t ?? Infinity);
  tMax = Math.max(tMin + 1, tMax);
  const W = 1200, left = 70, laneH = 34, top = 24;
  const H = top + lanes.length * laneH + 20;
  const x = (t: number) => left + ((t - tMin) / (tMax - tMin)) * (W - left - 20);
  const y = (lane: string) => top + Math.max(0, lanes.indexOf(lane)) * laneH + laneH / 2;
  const parts: string[] = [];
  lanes.forEach((l, i) => {
    parts.push(`<rect x="0" y="${top + i * laneH}" width="${W}" height="${laneH}" fill="${i % 2 ? '#fafafa' : '#fff'}"/>`);
    parts.push(`<text x="6" y="${y(l) + 4}" class="lane">${esc(l)}</text>`);
  });
  // Fault periods, shaded over their lane: offline and partition durations, and down time from crash to restart.
  const downSince = new Map<string, number>();
  for (const e of tl.trace) {
    const shade = periodKinds[e.kind];
    if (shade) {
      const ms = Number.parseInt(e.detail ?? '0', 10) || 0;
      parts.push(`<rect class="period" x="${x(e.t)}" y="${y(e.lane) - laneH / 2 + 2}" width="${Math.max(2, x(e.t + ms) - x(e.t))}" height="${laneH - 4}" fill="${shade}"><title>${esc(`${e.lane} ${e.kind} ${e.detail ?? ''} from ${e.t} ms`)}</title></rect>`);
    }
    if (e.kind === 'crash' || e.kind === 'wipe') downSince.set(e.lane, e.t);
    if (e.kind === 'restart' && downSince.has(e.lane)) {
      const from = downSince.get(e.lane)!;
      parts.push(`<rect class="period" x="${x(from)}" y="${y(e.lane) - laneH / 2 + 2}" width="${Math.max(2, x(e.t) - x(from))}" height="${laneH - 4}" fill="rgba(181,23,158,0.15)"><title>${esc(`${e.lane} down from ${from} to ${e.t} ms`)}</title></rect>`);
      downSince.delete(e.lane);
    }
  }
  tl.trace.forEach((e, i) => {
    if (e.kind === 'violation') return;
    parts.push(`<circle class="ev" data-i="${i}" cx="${x(e.t).toFixed(1)}" cy="${y(e.lane)}" r="4" fill="${colour(e.kind)}"><title>${esc(`${e.t} ms · ${e.lane} · ${e.kind}${e.detail ? ` · ${e.detail}` : ''}`)}</title></circle>`);
  });
  for (const v of tl.violations) {
    if (v.t === undefined) continue;
    const lane = v.lane && lanes.includes(v.lane) ? v.lane : 'sim';
    parts.push(`<g class="violation"><line x1="${x(v.t)}" x2="${x(v.t)}" y1="${top}" y2="${H - 20}" stroke="#d00" stroke-dasharray="4 3"/><path d="M ${x(v.t) - 7} ${y(lane) - 12} L ${x(v.t) + 7} ${y(lane) - 12} L ${x(v.t)} ${y(lane)} Z" fill="#d00"><title>${esc(`${v.checker}: ${v.message}`)}</title></path></g>`);
  }
  parts.push(`<text x="${left}" y="${H - 4}" class="axis">${tMin} ms</text><text x="${W - 20}" y="${H - 4}" text-anchor="end" class="axis">${tMax} ms (virtual)</text>`);
  // The trace rides along as JSON for the click handler; '<' escaped so it cannot close the script.
  const data = JSON.stringify(tl.trace).replace(/</g, '\\u003c');
  return `<svg id="tl${index}" class="timeline" viewBox="0 0 ${W} ${H}" width="100%">${parts.join('')}</svg><script type="application/json" id="trace${index}">${data}</script>`;
}

function coverageHtml(r: Report): string {
  const t = r.totals;
  const parts: string[] = [];
  if (t.faults && Object.keys(t.faults).length) parts.push(`<p>Faults injected: ${esc(Object.entries(t.faults).map(([k, v]) => `${k} ${v}`).join(', '))}</p>`);
  if (t.checks && Object.keys(t.checks).length) parts.push(`<p>Checker looks: ${esc(Object.entries(t.checks).map(([k, v]) => `${k} ${v}`).join(', '))}</p>`);
  if (r.coverage?.length) {
    const pct = (c: { covered: number; total: number }) => `${c.covered}/${c.total} (${c.total ? ((100 * c.covered) / c.total).toFixed(1) : '100.0'}%)`;
    const rows = [...byFolder(r.coverage).map((x) => ({ ...x, file: `${x.file}/` })), ...r.coverage].map((f) => `<tr><td>${esc(f.file)}</td><td>${pct(f.lines)}</td><td>${pct(f.branches)}</td><td>${esc(f.unreached)}</td></tr>`).join('\n');
    parts.push(`<h2>Production coverage by the simulator</h2><table class="coverage"><thead><tr><th>file</th><th>lines</th><th>branches</th><th>unreached lines</th></tr></thead><tbody>\n${rows}\n</tbody></table>`);
  }
  return parts.join('\n');
}

/** One self-contained page: the summary table, then a timeline per selected seed. */
export function renderHtml(report: Report, timelines: Timeline[]): string {
  const rows = report.seeds.map((s) => `<tr class="${s.verdict}"><td>${esc(s.seed)}</td><td>${s.verdict}</td><td><code>${s.traceHash}</code></td><td>${s.stats.events}${s.shrunkEvents !== undefined ? ` → ${s.shrunkEvents}` : ''}</td><td>${s.stats.mutations}</td><td>${s.stats.pushes}</td><td>${s.stats.pulls}</td><td>${Object.entries(s.stats.faults).map(([k, v]) => `${k} ${v}`).join(', ')}</td><td>${(s.stats.virtualMs / 1000).toFixed(1)}</td><td>${s.stats.wallMs}</td><td class="mix">${s.mix ? esc(describeMix(s.mix)) : ''}</td><td>${esc(s.violations[0] ? `${s.violations[0].checker}: ${s.violations[0].message}` : '')}</td></tr>`).join('\n');
  const sections = timelines.map((tl, i) => `<section><h2>${esc(tl.title)}</h2>
${tl.violations.length ? `<ul class="violations">${tl.violations.slice(0, 10).map((v) => `<li><b>${esc(v.checker)}</b>${v.t !== undefined ? ` at ${v.t} ms` : ''}: ${esc(v.message)}</li>`).join('')}</ul>` : '<p>No violation.</p>'}
${svgTimeline(tl, i)}
<pre class="detail" id="detail${i}">Click an event for its details.</pre></section>`).join('\n');
  const t = report.totals;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Lockstep convergence report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:16px;color:#222}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
tr.violation td{background:#fff0f0}tr.converged td:nth-child(2){color:#2a9d3a}
.timeline{border:1px solid #ccc;margin-top:6px}.lane{font:12px monospace;fill:#333}.axis{font:11px sans-serif;fill:#666}
.ev{cursor:pointer}.ev:hover{stroke:#000;stroke-width:2}.violations{color:#a00}.detail{background:#f6f6f6;padding:6px;min-height:1.4em;white-space:pre-wrap}
.legend span{display:inline-block;margin-right:12px}.legend i{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:4px;vertical-align:middle}
</style></head><body>
<h1>Lockstep convergence report</h1>
<p>${t.converged}/${t.seeds} seeds converged · profile <code>${esc(report.config.profile)}</code>${report.config.bug ? ` · bug <code>${esc(report.config.bug)}</code>` : ''} · ${report.config.clients} clients · ${report.config.steps} steps · server ${report.config.server} · lockstep ${esc(report.version)} (${esc(report.commit)}) · ${esc(report.createdAt)}</p>
<table><thead><tr><th>seed</th><th>verdict</th><th>trace hash</th><th>events</th><th>mutations</th><th>pushes</th><th>pulls</th><th>faults</th><th>virtual s</th><th>wall ms</th><th>mix</th><th>first violation</th></tr></thead><tbody>
${rows}
</tbody></table>
<p class="legend"><span><i style="background:#2a9d3a"></i>mutation</span><span><i style="background:#1f6fd1"></i>push</span><span><i style="background:#7a4fd1"></i>pull</span>${faultReport.legend.map((l) => `<span><i style="background:${l.colour}"></i>${esc(l.legend)}</span>`).join('')}<span><i style="background:#d00"></i>violation</span></p>
${coverageHtml(report)}
${sections || '<p>Every seed converged; run with --timeline SEED to draw one.</p>'}
<script>
document.querySelectorAll('svg.timeline').forEach(function (svg, i) {
  var trace = JSON.parse(document.getElementById('trace' + i).textContent);
  var out = document.getElementById('detail' + i);
  svg.addEventListener('click', function (ev) {
    var t = ev.target.closest('.ev'); if (!t) return;
    var e = trace[Number(t.getAttribute('data-i'))];
    out.textContent = e.t + ' ms · ' + e.lane + ' · ' + e.kind + (e.detail ? '\\n' + e.detail : '');
  });
});
</script>
</body></html>
`;
}
