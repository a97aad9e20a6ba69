/**
 * A progress line for long CLI work: a bar, counts, rate and ETA. On a terminal it redraws one
 * line; elsewhere (CI, a pipe) it prints a plain line at most every few seconds.
 */
export class Progress {
  private readonly started = Date.now();
  private lastPrint = 0;
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = Boolean(out.isTTY);
  }

  setTotal(total: number): void {
    this.total = total;
  }

  update(done: number, extra = '', force = false): void {
    const now = Date.now();
    if (!force && now - this.lastPrint < (this.tty ? 100 : 3000)) return;
    this.lastPrint = now;
    this.out.write(this.tty ? `\r${this.line(done, extra)}\u001b[K` : `${this.line(done, extra)}\n`);
  }

  done(done: number, extra = ''): void {
    this.update(done, extra, true);
    if (this.tty) this.out.write('\n');
  }

  private line(done: number, extra: string): string {
    const total = Math.max(this.total, done, 1);
    const width = 24;
    const filled = Math.round((done / total) * width);
    const elapsed = (Date.now() - this.started) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const eta = rate > 0 ? (total - done) / rate : Number.POSITIVE_INFINITY;
    const pct = Math.floor((done / total) * 100);
    return `${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${pct}% · ${rate.toFixed(1)}/s · ETA ${formatSeconds(eta)}${extra ? ` · ${extra}` : ''}`;
  }
}

export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
