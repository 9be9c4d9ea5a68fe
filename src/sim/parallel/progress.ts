import cliProgress from 'cli-progress';
import type { SeedReport } from '../report/schema.ts';

const interactive = () => Boolean(process.stderr.isTTY) && process.env.CI !== 'true';

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/**
 * The progress of a sweep: a cli-progress bar on a terminal, a plain line per seed otherwise
 * (CI=true or a pipe). Both show seeds/s and an ETA: seeds left at the current rate, or for a
 * campaign (--minutes) the time left, whichever ends first.
 */
export class Progress {
  readonly bar: cliProgress.SingleBar | null;
  private readonly t0 = performance.now();
  private failed = 0;
  private done = 0;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly total: number | undefined,
    private readonly durationMs: number | undefined,
  ) {
    this.bar = interactive()
      ? new cliProgress.SingleBar({ format: 'seeds {bar} {done}{of} | {failed} failing | {rate} seeds/s | ETA {left}', hideCursor: true }, cliProgress.Presets.shades_classic)
      : null;
    // A campaign's bar measures time; seed counts ride along as payload.
    this.bar?.start(this.barTotal(), 0, this.payload());
    if (this.bar && durationMs !== undefined) this.timer = setInterval(() => this.bar!.update(this.barValue(), this.payload()), 1000).unref();
  }

  private elapsedS = () => (performance.now() - this.t0) / 1000;
  private barTotal = () => (this.durationMs !== undefined ? Math.round(this.durationMs / 1000) : (this.total ?? 1));
  private barValue = () => (this.durationMs !== undefined ? Math.min(this.barTotal(), Math.round(this.elapsedS())) : this.done);

  rate(): number {
    return this.done / Math.max(this.elapsedS(), 1e-3);
  }

  eta(): number {
    const bySeeds = this.total !== undefined ? (this.total - this.done) / Math.max(this.rate(), 1e-9) : Infinity;
    const byTime = this.durationMs !== undefined ? this.durationMs / 1000 - this.elapsedS() : Infinity;
    return Math.max(0, Math.min(bySeeds, byTime));
  }

  private payload() {
    return { done: this.done, of: this.total !== undefined ? `/${this.total}` : '', failed: this.failed, rate: this.rate().toFixed(2), left: clock(this.eta()) };
  }

  seed(done: number, r: SeedReport): void {
    this.done = done;
    if (r.verdict === 'violation') this.failed++;
    if (this.bar) {
      this.bar.update(this.barValue(), this.payload());
      return;
    }
    const v = r.violations[0];
    console.log(
      `seed ${r.seed} (${done}${this.total !== undefined ? `/${this.total}` : ''}, ${this.rate().toFixed(2)} seeds/s, ETA ${clock(this.eta())}): ${r.verdict}${r.deterministic ? ', deterministic' : ''} · ${r.stats.events} events, ${r.stats.mutations} mutations, ${r.stats.statements} statements · trace ${r.traceHash} · ${r.stats.wallMs} ms${v ? ` · ${v.checker}: ${v.message.slice(0, 200)}` : ''}`,
    );
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.bar?.stop();
  }
}
