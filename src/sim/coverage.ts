import { Session } from 'node:inspector';
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';
import convert from 'ast-v8-to-istanbul';
import { parseAst } from 'rolldown/parseAst';

/** Per production file: which lines and branches the simulator reached, and what it did not. */
export interface FileCoverage {
  file: string;
  lines: { covered: number; total: number };
  branches: { covered: number; total: number };
  /** Unreached line ranges, e.g. "12-14, 40". */
  unreached: string;
}

/** The folders whose coverage counts: production code the simulator drives. */
const production = /[/\\]src[/\\](engine|server|protocol|db)[/\\](?!.*\.test\.ts)[^?]*\.ts/;

/**
 * V8 precise coverage of this process (node:inspector, in-process), converted to line and branch
 * counts of the TypeScript sources through each module's inline source map. Start it before the
 * production modules run (see coverage-start.ts): V8 counts blocks of functions compiled after.
 */
export class CoverageRecorder {
  private readonly session = new Session();
  private readonly sources = new Map<string, string>();

  /** In-process inspector calls answer synchronously: coverage is on when this returns. */
  start(): void {
    this.session.connect();
    this.session.on('Debugger.scriptParsed', (m) => {
      if (production.test(m.params.url)) this.sources.set(m.params.url, m.params.scriptId);
    });
    this.session.post('Debugger.enable');
    this.session.post('Profiler.enable');
    this.session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  }

  private post<T>(method: string, params?: object): Promise<T> {
    return new Promise((resolve, reject) => this.session.post(method, params ?? {}, (err, r) => (err ? reject(err) : resolve(r as T))));
  }

  async take(root: string): Promise<FileCoverage[]> {
    const { result } = await this.post<{ result: import('node:inspector').Profiler.ScriptCoverage[] }>('Profiler.takePreciseCoverage');
    const out: FileCoverage[] = [];
    for (const script of result) {
      const id = this.sources.get(script.url);
      if (!id || !production.test(script.url)) continue;
      const { scriptSource: code } = await this.post<{ scriptSource: string }>('Debugger.getScriptSource', { scriptId: id });
      const map = inlineSourceMap(code);
      const data = await convert({ code, coverage: script, ast: parseAst(code), ...(map ? { sourceMap: map } : {}) });
      for (const [path, fc] of Object.entries(data as Record<string, IstanbulFile>)) {
        const file = relative(root, path.startsWith('file:') ? fileURLToPath(path) : path);
        out.push(summarise(file, fc));
      }
    }
    return out.sort((a, b) => a.file.localeCompare(b.file));
  }

  async stop(): Promise<void> {
    await this.post('Profiler.stopPreciseCoverage');
    this.session.disconnect();
  }
}

interface IstanbulFile {
  statementMap: Record<string, { start: { line: number }; end: { line: number } }>;
  s: Record<string, number>;
  branchMap: Record<string, unknown>;
  b: Record<string, number[]>;
}

function inlineSourceMap(code: string): { version: number; mappings: string; sources: string[]; names: string[] } | undefined {
  const m = /\/\/# sourceMappingURL=data:application\/json;(?:charset=utf-8;)?base64,([A-Za-z0-9+/=]+)\s*$/.exec(code);
  return m ? JSON.parse(Buffer.from(m[1]!, 'base64').toString('utf8')) : undefined;
}

/** Lines as istanbul counts them: a line is covered when every statement starting on it ran. */
function summarise(file: string, fc: IstanbulFile): FileCoverage {
  const lineHits = new Map<number, number>();
  for (const [k, loc] of Object.entries(fc.statementMap)) {
    const hits = fc.s[k] ?? 0;
    const prev = lineHits.get(loc.start.line);
    lineHits.set(loc.start.line, prev === undefined ? hits : Math.min(prev, hits));
  }
  const missed = [...lineHits].filter(([, h]) => h === 0).map(([l]) => l).sort((a, b) => a - b);
  const arms = Object.values(fc.b).flat();
  return {
    file,
    lines: { covered: lineHits.size - missed.length, total: lineHits.size },
    branches: { covered: arms.filter((h) => h > 0).length, total: arms.length },
    unreached: ranges(missed),
  };
}

function ranges(lines: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < lines.length; ) {
    let j = i;
    while (j + 1 < lines.length && lines[j + 1] === lines[j]! + 1) j++;
    parts.push(i === j ? `${lines[i]}` : `${lines[i]}-${lines[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}

/** Totals per folder (src/engine, ...). */
export function byFolder(files: FileCoverage[]): FileCoverage[] {
  const folders = new Map<string, FileCoverage>();
  for (const f of files) {
    const folder = f.file.split(/[/\\]/).slice(0, 2).join('/');
    const t = folders.get(folder) ?? { file: folder, lines: { covered: 0, total: 0 }, branches: { covered: 0, total: 0 }, unreached: '' };
    t.lines.covered += f.lines.covered;
    t.lines.total += f.lines.total;
    t.branches.covered += f.branches.covered;
    t.branches.total += f.branches.total;
    folders.set(folder, t);
  }
  return [...folders.values()];
}
