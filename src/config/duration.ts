/** Parses durations written in the config file: "250ms", "30s", "5m", "1h", or "0" (off). */
export function parseDuration(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim());
  if (!match) return null;
  const value = Number(match[1]);
  const unit = match[2] ?? (value === 0 ? 'ms' : undefined);
  if (!unit) return null;
  const factor = ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as Record<string, number>)[unit];
  return Math.round(value * factor);
}
