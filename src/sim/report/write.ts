import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderHtml, type Timeline } from './html.ts';
import { renderMarkdown } from './markdown.ts';
import type { Report } from './schema.ts';

/**
 * Writes report.json, report.md and report.html, and timelines.json: the traces report.html
 * draws, kept so that `lockstep merge` can draw them again without re-running any seed.
 */
export function writeReportFiles(outDir: string, report: Report, timelines: Timeline[]): void {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'report.json'), JSON.stringify(report, null, 1) + '\n');
  writeFileSync(join(outDir, 'report.md'), renderMarkdown(report));
  writeFileSync(join(outDir, 'report.html'), renderHtml(report, timelines));
  writeFileSync(join(outDir, 'timelines.json'), JSON.stringify(timelines) + '\n');
}
