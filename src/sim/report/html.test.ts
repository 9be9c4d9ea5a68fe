/** report.html draws the timeline of a runaway seed (a trace of hundreds of thousands of events). */
import { describe, expect, it } from 'vitest';
import { renderHtml } from './html.ts';
import { buildConfig } from '../scenario.ts';
import { buildReport } from './build.ts';

describe('report.html', () => {
  it('draws a timeline of 300,000 events (Math.min(...trace) overflowed the stack)', () => {
    const trace = Array.from({ length: 300_000 }, (_, i) => ({ t: i * 300, lane: i % 2 ? 'c1' : 'server', kind: 'register-send' }));
    const report = buildReport(buildConfig({ seed: '1', profile: 'none' }), [], 1);
    const html = renderHtml(report, [{ title: 'seed 3', seed: '3', trace, violations: [{ checker: 'sim-error', message: 'virtual time limit', t: 99_999_700 }] }]);
    expect(html).toContain('seed 3');
    expect(html).toContain('<svg');
  });
});
