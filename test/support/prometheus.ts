import parsePrometheusTextFormat, { type ParsedFamily, type ParsedSample } from 'parse-prometheus-text-format';

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/**
 * Reads a /metrics body with parse-prometheus-text-format (prom2json-compatible output).
 *
 * That parser folds a histogram's series into one entry and drops their labels when a histogram
 * has labels (it only handles unlabelled ones), so the text is parsed twice: once as served, for
 * the families and their types, and once with histogram TYPE lines removed, so `_bucket`,
 * `_count` and `_sum` come back as plain samples with their labels.
 * The parser is lenient, so every sample line is also checked against the text format's grammar.
 */
export function parseMetrics(text: string) {
  const families = new Map<string, ParsedFamily>(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
  // Untyped, a histogram's series interleave (bucket, sum, count per label set), and the parser
  // starts a new entry each time the name changes: the entries of one name are joined here.
  const flat = new Map<string, ParsedSample[]>();
  for (const f of parsePrometheusTextFormat(text.replace(/^# TYPE \S+ histogram$/gm, '')))
    flat.set(f.name, [...(flat.get(f.name) ?? []), ...f.metrics]);
  const badLines = text.split('\n').filter((line) => line && !line.startsWith('#') && !SAMPLE_LINE.test(line));
  return {
    families,
    badLines,
    /** Every sample of a series name (for a histogram: `<name>_count`, `<name>_bucket`, `<name>_sum`). */
    samples(name: string): Sample[] {
      return (flat.get(name) ?? []).map((m) => ({ labels: m.labels ?? {}, value: Number(m.value) }));
    },
    /** The value of the one sample whose labels include `labels`, or undefined. */
    value(name: string, labels: Record<string, string> = {}): number | undefined {
      return this.samples(name).find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    },
  };
}

// name{label="value",...} value [timestamp]; label values escape \, " and newline.
const SAMPLE_LINE =
  /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? (-?[0-9.e+-]+|[+-]Inf|NaN)( -?[0-9]+)?$/;
