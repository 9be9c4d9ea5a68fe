/**
 * The statement stream a simulation sends to its PGlite stores, written to a file and replayed
 * bare: bench:sim's like-for-like baseline. A run's stores are serial (one session each, every
 * transaction whole under the simulator's lock), so replaying each store's statements in the
 * order they reached it, on fresh stores, redoes the same work with none of the simulator around
 * it: the same statements, the same data, the same PGlite settings.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { Db, Queryable, TransactionOptions } from '../src/db/types.ts';

/** One line of the log: store, kind (q: query with params, e: exec), SQL index or text, params, whether it failed. */
type Entry = [store: number, kind: 'q' | 'e', sql: number, params: unknown[] | null, failed: 0 | 1];
type Line = Entry | [store: -1, text: string];

/** Appends JSON lines to a file in 1 MB writes; SQL texts are written once and referred to by number. */
export class StatementLog {
  private readonly fd: number;
  private buf: string[] = [];
  private bufChars = 0;
  private readonly texts = new Map<string, number>();
  count = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }

  private line(l: Line) {
    const s = JSON.stringify(l);
    this.buf.push(s);
    this.bufChars += s.length + 1;
    if (this.bufChars > 1 << 20) this.flush();
  }

  add(store: number, kind: 'q' | 'e', sql: string, params: unknown[] | undefined, failed: boolean) {
    let id = this.texts.get(sql);
    if (id === undefined) {
      id = this.texts.size;
      this.texts.set(sql, id);
      this.line([-1, sql]);
    }
    this.line([store, kind, id, params ?? null, failed ? 1 : 0]);
    this.count++;
  }

  flush() {
    if (this.buf.length) writeSync(this.fd, this.buf.join('\n') + '\n');
    this.buf = [];
    this.bufChars = 0;
  }

  close() {
    this.flush();
    closeSync(this.fd);
  }

  /** `db` with every statement it runs (BEGIN, COMMIT and ROLLBACK of its transactions too) logged as store `store`. */
  recording(db: Db, store: number): Db {
    const log = (kind: 'q' | 'e', sql: string, params?: unknown[]) =>
      async <T>(run: () => Promise<T>): Promise<T> => {
        try {
          const r = await run();
          this.add(store, kind, sql, params, false);
          return r;
        } catch (e) {
          this.add(store, kind, sql, params, true);
          throw e;
        }
      };
    const wrap = (q: Queryable): Queryable => ({
      query: <T>(sql: string, params?: unknown[]) => log('q', sql, params)(() => q.query<T>(sql, params)),
      exec: (sql: string) => log('e', sql)(() => q.exec(sql)),
    });
    const outer = wrap(db);
    return {
      dialect: db.dialect,
      query: outer.query,
      exec: outer.exec,
      transaction: async <T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions) => {
        let began = false;
        try {
          const r = await db.transaction((tx) => {
            began = true;
            this.add(store, 'e', 'BEGIN', undefined, false);
            return fn(wrap(tx));
          }, options);
          this.add(store, 'e', 'COMMIT', undefined, false);
          return r;
        } catch (e) {
          if (began) this.add(store, 'e', 'ROLLBACK', undefined, false);
          throw e;
        }
      },
      close: () => db.close(),
    };
  }
}

/** The log's statements, run one after another on `stores` (by store number): CPU ms of the loop, how many failed differently than in the run, and the costliest statement shapes. */
export async function replayStatementLog(path: string, stores: Db[]): Promise<{ statements: number; cpuMs: number; mismatches: number; firstMismatch?: string; top: { share: number; n: number; 'µs each': number; shape: string }[] }> {
  const texts: string[] = [];
  const entries: Entry[] = [];
  // Parsed up front, so that the timed loop is the statements alone.
  // A Buffer split by hand: a 1,000-client run's log can be longer than a JS string may be.
  const buf = readFileSync(path);
  for (let at = 0, nl = buf.indexOf(10); nl >= 0; at = nl + 1, nl = buf.indexOf(10, at)) {
    if (nl === at) continue;
    const l = JSON.parse(buf.toString('utf8', at, nl)) as Line;
    if (l[0] === -1) texts.push(l[1] as string);
    else entries.push(l as Entry);
  }
  let mismatches = 0;
  let firstMismatch: string | undefined;
  // CPU per SQL text (numbers inlined: a schema or literal apart, the same statement), for `top`.
  const bySql = new Map<number, { us: number; n: number }>();
  const c0 = process.cpuUsage();
  let last = c0;
  for (const [store, kind, sql, params, failed] of entries) {
    const db = stores[store]!;
    let ok = true;
    try {
      if (kind === 'q') await db.query(texts[sql]!, params ?? undefined);
      else await db.exec(texts[sql]!);
    } catch {
      ok = false;
    }
    const now = process.cpuUsage();
    const t = bySql.get(sql) ?? { us: 0, n: 0 };
    t.us += now.user + now.system - last.user - last.system;
    t.n++;
    bySql.set(sql, t);
    last = now;
    if (ok === (failed === 1)) {
      mismatches++;
      firstMismatch ??= `${ok ? 'succeeded' : 'failed'} in the replay, not in the run: ${texts[sql]!.replace(/\s+/g, ' ').slice(0, 160)}`;
    }
  }
  const u = process.cpuUsage(c0);
  const total = u.user + u.system;
  const shapes = new Map<string, { us: number; n: number }>();
  for (const [sql, t] of bySql) {
    const shape = texts[sql]!.replace(/\s+/g, ' ').replace(/"[a-z0-9_]+"\./g, 's.').replace(/\b\d+\b/g, 'N').slice(0, 140);
    const a = shapes.get(shape) ?? { us: 0, n: 0 };
    a.us += t.us;
    a.n += t.n;
    shapes.set(shape, a);
  }
  const top = [...shapes].sort((a, b) => b[1].us - a[1].us).slice(0, 15).map(([shape, t]) => ({ share: +(t.us / total).toFixed(3), n: t.n, 'µs each': Math.round(t.us / t.n), shape }));
  return { statements: entries.length, cpuMs: total / 1000, mismatches, firstMismatch, top };
}
