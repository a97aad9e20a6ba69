// Python's `json.dumps(value)` with default settings, byte for byte. Plane signs its webhooks with
// an HMAC over exactly this text and sends the same text as the body (trackers.md §1.1), so the
// sandbox must produce it to send realistic deliveries, and tests use it to build the bodies a
// receiver has to verify without re-serialising.
//
// Defaults reproduced (CPython Lib/json/encoder.py):
//  - separators ", " and ": " (item_separator / key_separator when indent is None);
//  - ensure_ascii=True: every character outside printable ASCII (space to "~") is escaped, with
//    lowercase hex; characters above U+FFFF become a surrogate pair of two escapes, which is what
//    walking a JS string by UTF-16 code unit gives for free;
//  - the short escapes \" \\ \n \r \t \b \f, and \u00XX for the other control characters and DEL;
//  - "/" is not escaped;
//  - allow_nan=True: NaN, Infinity and -Infinity are written as those bare words;
//  - dict keys in insertion order (sort_keys=False).
//
// Python has separate int and float types and JS has one number type, so numbers follow this rule:
// an integral JS number is a Python int (printed with every digit, as Python prints ints of any
// size), except -0, which only a float can be. Anything else is a float, printed as repr(float).
// A value that Python holds as an integral float (Plane's sort_order is a FloatField, so Plane
// sends 65535.0) is written by wrapping it: `pyFloat(65535)`.

/** A number to print as a Python float even when it is integral (`65535.0`). */
export class PythonFloat {
  constructor(readonly value: number) {}
}

export function pyFloat(value: number): PythonFloat {
  return new PythonFloat(value);
}

/**
 * Serialises like Python's `json.dumps(value)` with default arguments. Accepts null, booleans,
 * numbers, bigints (Python ints), strings, arrays, Maps with string keys and plain objects.
 * Object properties that are `undefined` are skipped, as JSON.stringify does (they are absent
 * keys, not values); `toJSON()` is honoured. Anything else, and circular structures, throw a
 * TypeError, where Python raises TypeError / ValueError.
 *
 * JS objects list integer-like keys ("1", "2") before other keys whatever the insertion order;
 * pass a Map where such keys must keep their order.
 */
export function pythonJsonDumps(value: unknown): string {
  const out: string[] = [];
  write(value, out, new Set());
  return out.join('');
}

function write(value: unknown, out: string[], stack: Set<object>): void {
  if (value === null) return void out.push('null');
  switch (typeof value) {
    case 'boolean':
      return void out.push(value ? 'true' : 'false');
    case 'string':
      return void out.push(encodeString(value));
    case 'number':
      return void out.push(Number.isInteger(value) && !Object.is(value, -0) ? BigInt(value).toString() : floatRepr(value));
    case 'bigint':
      return void out.push(value.toString());
    case 'object':
      break;
    default:
      throw new TypeError(`Object of type ${typeof value} is not JSON serializable`);
  }
  if (value instanceof PythonFloat) return void out.push(floatRepr(value.value));
  const obj = value as object;
  if (typeof (obj as { toJSON?: unknown }).toJSON === 'function' && !(obj instanceof Map)) {
    return write((obj as { toJSON(): unknown }).toJSON(), out, stack);
  }
  if (stack.has(obj)) throw new TypeError('Circular reference detected');
  stack.add(obj);
  if (Array.isArray(obj)) {
    out.push('[');
    obj.forEach((item, i) => {
      if (i > 0) out.push(', ');
      write(item === undefined ? null : item, out, stack);
    });
    out.push(']');
  } else {
    const entries: [unknown, unknown][] = obj instanceof Map ? [...obj.entries()] : Object.entries(obj);
    out.push('{');
    let first = true;
    for (const [key, item] of entries) {
      if (item === undefined) continue;
      if (typeof key !== 'string') throw new TypeError(`keys must be str, not ${typeof key}`);
      if (!first) out.push(', ');
      first = false;
      out.push(encodeString(key), ': ');
      write(item, out, stack);
    }
    out.push('}');
  }
  stack.delete(obj);
}

const SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

/** py_encode_basestring_ascii: anything but printable ASCII is escaped, per UTF-16 code unit. */
function encodeString(s: string): string {
  let out = '"';
  let runStart = 0;
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code >= 0x20 && code <= 0x7e && code !== 0x22 && code !== 0x5c) continue;
    out += s.slice(runStart, i);
    const ch = s[i]!;
    out += SHORT_ESCAPES[ch] ?? `\\u${code.toString(16).padStart(4, '0')}`;
    runStart = i + 1;
  }
  return `${out}${s.slice(runStart)}"`;
}

/**
 * repr(float): the shortest digits that round-trip (the same digits JS picks), laid out by
 * CPython's format_float_short for the 'r' code: positional when -4 < decpt <= 16, else scientific
 * as d[.ddd]e±XX with at least two exponent digits; positional values always show a fraction
 * (".0"). decpt is where the decimal point falls relative to the digits (value = 0.DIGITS × 10^decpt).
 */
function floatRepr(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  const sign = n < 0 ? '-' : '';
  // toExponential() without an argument gives the shortest round-trip digits: "1.2345e+17".
  const [mantissa, exp] = Math.abs(n).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const decpt = Number(exp) + 1;
  if (decpt <= -4 || decpt > 16) {
    const e = decpt - 1;
    const frac = digits.length > 1 ? `.${digits.slice(1)}` : '';
    return `${sign}${digits[0]}${frac}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
  if (decpt >= digits.length) return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`;
  return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
}
