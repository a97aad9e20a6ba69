// pythonJsonDumps against what CPython's json.dumps (default arguments) prints. Each expected
// string is Python's documented output, written out by hand (checked against CPython 3 once).
import { describe, expect, it } from 'vitest';
import { pyFloat, pythonJsonDumps } from '../../sandbox/plane/python-json.ts';

describe('pythonJsonDumps', () => {
  it('uses ", " and ": " separators and escapes non-ASCII as lowercase \\uXXXX', () => {
    expect(pythonJsonDumps({ a: 'é', b: [1, 2.5] })).toBe('{"a": "\\u00e9", "b": [1, 2.5]}');
    expect(pythonJsonDumps('日本')).toBe('"\\u65e5\\u672c"');
    expect(pythonJsonDumps({ 'k é': 'v' })).toBe('{"k \\u00e9": "v"}');
  });

  it('writes characters beyond U+FFFF as a surrogate pair of escapes', () => {
    expect(pythonJsonDumps('😀')).toBe('"\\ud83d\\ude00"');
    expect(pythonJsonDumps({ e: 'ok 👍' })).toBe('{"e": "ok \\ud83d\\udc4d"}');
  });

  it('escapes like Python: short escapes, \\u00XX for other controls and DEL, "/" left alone', () => {
    const s = 'q"b\\s/n\nr\rt\tb\bf\f\u0000\u001f\u007f\u0080\u2028\uffff';
    expect(pythonJsonDumps(s)).toBe('"q\\"b\\\\s/n\\nr\\rt\\tb\\bf\\f\\u0000\\u001f\\u007f\\u0080\\u2028\\uffff"');
  });

  it('nests objects and lists, with {} and [] for empty ones', () => {
    const value = { outer: { inner: { list: [{}, [], [[]]], t: true, f: false, n: null } }, e: {}, l: [] };
    expect(pythonJsonDumps(value)).toBe(
      '{"outer": {"inner": {"list": [{}, [], [[]]], "t": true, "f": false, "n": null}}, "e": {}, "l": []}',
    );
    expect(pythonJsonDumps({})).toBe('{}');
    expect(pythonJsonDumps([])).toBe('[]');
  });

  it('keeps key insertion order (no sorting), and Map order for integer-like keys', () => {
    expect(pythonJsonDumps({ z: 1, a: 2, m: 3 })).toBe('{"z": 1, "a": 2, "m": 3}');
    expect(
      pythonJsonDumps(
        new Map<string, number>([
          ['b', 1],
          ['1', 2],
        ]),
      ),
    ).toBe('{"b": 1, "1": 2}');
  });

  it('prints floats as repr(float), switching to exponents where Python does', () => {
    const floats = [
      0.1,
      pyFloat(1e16),
      pyFloat(1e15),
      1e-5,
      0.0001,
      1.5e-7,
      pyFloat(1e21),
      pyFloat(1e22),
      123.456,
      -2.5,
      pyFloat(1.7976931348623157e308),
      5e-324,
      pyFloat(65535),
      -0,
      NaN,
      Infinity,
      -Infinity,
    ];
    expect(pythonJsonDumps(floats)).toBe(
      '[0.1, 1e+16, 1000000000000000.0, 1e-05, 0.0001, 1.5e-07, 1e+21, 1e+22, 123.456, -2.5, 1.7976931348623157e+308, 5e-324, 65535.0, -0.0, NaN, Infinity, -Infinity]',
    );
  });

  it('prints integral numbers as Python ints, with every digit', () => {
    expect(pythonJsonDumps([1e21, 2 ** 53 + 2, -7, 0, 10n ** 30n])).toBe(
      '[1000000000000000000000, 9007199254740994, -7, 0, 1000000000000000000000000000000]',
    );
  });

  it('skips undefined properties, honours toJSON, and rejects what Python cannot encode', () => {
    expect(pythonJsonDumps({ a: undefined, b: 1 })).toBe('{"b": 1}');
    expect(pythonJsonDumps({ at: new Date('2026-01-02T03:04:05.000Z') })).toBe('{"at": "2026-01-02T03:04:05.000Z"}');
    expect(() => pythonJsonDumps(() => 1)).toThrow(TypeError);
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(() => pythonJsonDumps(loop)).toThrow(/Circular/);
  });

  it('round-trips through JSON.parse to the same value', () => {
    const value = { name: 'Crème brûlée 🍮', n: [1, 2.25, -3], nested: { ok: true, none: null } };
    expect(JSON.parse(pythonJsonDumps(value))).toEqual(value);
  });
});
