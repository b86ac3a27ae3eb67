// RFC 8785 (JCS) canonicalization: the RFC's own examples (§3.2.2, §3.2.3,
// §3.2.4 and the Appendix B number table), the RFC author's reference test
// data (github.com/cyberphone/json-canonicalization testdata/weird.json),
// rejections outside I-JSON, and properties: canonical bytes round-trip
// through parseCanonical, and every other spelling is rejected.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from '../../ledger/bytes.js';
import { MalformedError } from '../../ledger/errors.js';
import {
  canonicalBytes,
  canonicalize,
  MAX_JSON_DEPTH,
  NonCanonicalError,
  parseCanonical,
} from '../../ledger/jcs.js';

function float64(hexBits: string): number {
  return new DataView(fromHex(hexBits).buffer).getFloat64(0);
}

describe('RFC 8785 examples', () => {
  it('§3.2.2 / §3.2.4: serializes the sample object to the published string and UTF-8 bytes', () => {
    const input = String.raw`{
      "numbers": [333333333.33333329, 1E30, 4.50,
                  2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }`;
    const expected = String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`;
    // §3.2.4, the UTF-8 of the result in hex.
    const expectedHex = `
      7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72
      75 65 2c 66 61 6c 73 65 5d 2c 22 6e 75 6d 62 65 72 73 22 3a
      5b 33 33 33 33 33 33 33 33 33 2e 33 33 33 33 33 33 33 2c 31
      65 2b 33 30 2c 34 2e 35 2c 30 2e 30 30 32 2c 31 65 2d 32 37
      5d 2c 22 73 74 72 69 6e 67 22 3a 22 e2 82 ac 24 5c 75 30 30
      30 66 5c 6e 41 27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d`.replace(/\s+/g, '');
    const value: unknown = JSON.parse(input);
    expect(canonicalize(value)).toBe(expected);
    expect(toHex(canonicalBytes(value))).toBe(expectedHex);
    expect(parseCanonical(canonicalBytes(value))).toEqual(value);
    expect(() => parseCanonical(utf8(input))).toThrow(NonCanonicalError);
  });

  it('§3.2.3: sorts member names by UTF-16 code units', () => {
    const input = String.raw`{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }`;
    const out = canonicalize(JSON.parse(input));
    // (Not Object.values: JS objects list integer-like keys such as "1" first.)
    const order = [...out.matchAll(/:"([^"]*)"/g)].map((m) => m[1]);
    expect(order).toEqual([
      'Carriage Return',
      'One',
      'Control',
      'Latin Small Letter O With Diaeresis',
      'Euro Sign',
      'Emoji: Grinning Face',
      'Hebrew Letter Dalet With Dagesh',
    ]);
    expect(out).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","ö":"Latin Small Letter O With Diaeresis",' +
        '"€":"Euro Sign","😀":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it('cyberphone/json-canonicalization testdata weird.json', () => {
    const input = String.raw`{
      "\u20ac": "Euro Sign",
      "1": "One",
      "\u0080": "Control\u007f",
      "\ud83d\ude02": "Smiley",
      "\u00f6": "Latin Small Letter O With Diaeresis",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "</script>": "Browser Challenge"
    }`;
    expect(canonicalize(JSON.parse(input))).toBe(
      '{"1":"One","</script>":"Browser Challenge","\u0080":"Control\u007f","ö":"Latin Small Letter O With Diaeresis",' +
        '"€":"Euro Sign","😂":"Smiley","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  // Appendix B: IEEE 754 binary64 bit patterns and their serialization.
  const appendixB: [string, string][] = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'], // minus zero
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ];
  it.each(appendixB)('Appendix B: %s serializes as %s', (bits, text) => {
    expect(canonicalize(float64(bits))).toBe(text);
    // And the canonical text parses back to a value with the same serialization.
    expect(canonicalize(parseCanonical(utf8(text)))).toBe(text);
  });

  it('Appendix B: NaN and Infinity are errors', () => {
    expect(() => canonicalize(float64('7fffffffffffffff'))).toThrow(TypeError);
    expect(() => canonicalize(float64('7ff0000000000000'))).toThrow(TypeError);
    expect(() => canonicalize(-Infinity)).toThrow(TypeError);
  });
});

describe('canonicalize', () => {
  it('serializes primitives, arrays and nested objects', () => {
    expect(canonicalize(null)).toBe('null');
    expect(canonicalize(true)).toBe('true');
    expect(canonicalize([])).toBe('[]');
    expect(canonicalize({})).toBe('{}');
    expect(canonicalize({ b: [1, { d: 1, c: 2 }], a: 'x' })).toBe('{"a":"x","b":[1,{"c":2,"d":1}]}');
    expect(canonicalize(Object.assign(Object.create(null) as object, { z: 1, y: 2 }))).toBe('{"y":2,"z":1}');
    expect(canonicalize('\u2028\u001f<>&')).toBe('"\u2028\\u001f<>&"');
  });

  const notJson: [string, unknown][] = [
    ['undefined', undefined],
    ['a function', () => 1],
    ['a symbol', Symbol('x')],
    ['a bigint', 1n],
    ['NaN', NaN],
    ['an unpaired high surrogate', 'a\uD800b'],
    ['an unpaired low surrogate', '\uDC00'],
    ['an unpaired surrogate in a member name', { '\uD800': 1 }],
    ['a Date', new Date(0)],
    ['a Map', new Map()],
    ['a Uint8Array', new Uint8Array(2)],
    ['a class instance', new (class Point {})()],
    ['an undefined member', { a: undefined }],
    ['an undefined element', [undefined]],
    // eslint-disable-next-line no-sparse-arrays
    ['a sparse array', [1, , 2]],
    ['a symbol key', { [Symbol('k')]: 1 }],
  ];
  it.each(notJson)('rejects %s with TypeError', (_name, value) => {
    expect(() => canonicalize(value)).toThrow(TypeError);
  });

  it('rejects cycles with TypeError and deep nesting with RangeError', () => {
    const a: unknown[] = [];
    a.push(a);
    expect(() => canonicalize(a)).toThrow(TypeError);
    let deep: unknown = 0;
    for (let i = 0; i < MAX_JSON_DEPTH; i++) deep = [deep];
    expect(canonicalize(deep)).toBe('['.repeat(MAX_JSON_DEPTH) + '0' + ']'.repeat(MAX_JSON_DEPTH));
    expect(() => canonicalize([deep])).toThrow(RangeError);
  });

  it('accepts a repeated (acyclic) reference', () => {
    const shared = { x: 1 };
    expect(canonicalize([shared, shared])).toBe('[{"x":1},{"x":1}]');
  });
});

describe('parseCanonical', () => {
  const nonCanonical = [
    ' {}',
    '{} ',
    '{}\n',
    '{ }',
    '[1, 2]',
    '{"a" :1}',
    '{"b":1,"a":2}',
    '{"a":1,"a":1}',
    '{"a":1,"a":2}',
    '1.0',
    '1.50',
    '1e2',
    '1E2',
    '1e30',
    '1E+30',
    '-0',
    '0.0',
    '0.0000001',
    '100000000000000000000000',
    '"\\u0041"',
    '"\\/"',
    '"\\u00e9"',
    '"\\u001F"',
    '"\\u000a"',
    '"\\u007f"',
  ];
  it.each(nonCanonical)('rejects the non-canonical %j with NonCanonicalError', (text) => {
    expect(() => parseCanonical(utf8(text))).toThrow(NonCanonicalError);
    expect(() => parseCanonical(utf8(text))).toThrow(MalformedError);
  });

  it('rejects a byte-order mark', () => {
    expect(() => parseCanonical(Uint8Array.of(0xef, 0xbb, 0xbf, 0x7b, 0x7d))).toThrow(NonCanonicalError);
  });

  const garbage: [string, Uint8Array][] = [
    ['empty input', new Uint8Array(0)],
    ['invalid UTF-8', Uint8Array.of(0x22, 0xff, 0x22)],
    ['an overlong UTF-8 encoding', Uint8Array.of(0x22, 0xc0, 0xaf, 0x22)],
    ['an encoded surrogate', Uint8Array.of(0x22, 0xed, 0xa0, 0x80, 0x22)],
    ['truncated JSON', utf8('{"a":')],
    ['a bare word', utf8('nul')],
    ['single quotes', utf8("'a'")],
    ['a trailing comma', utf8('[1,]')],
    ['two values', utf8('1 2')],
    ['a number beyond binary64', utf8('1e400')],
    ['an escaped unpaired surrogate', utf8('"\\ud800"')],
    ['NaN', utf8('NaN')],
  ];
  it.each(garbage)('rejects %s with MalformedError', (_name, bytes) => {
    expect(() => parseCanonical(bytes)).toThrow(MalformedError);
  });

  it('rejects nesting deeper than MAX_JSON_DEPTH with MalformedError', () => {
    const n = MAX_JSON_DEPTH + 1;
    expect(() => parseCanonical(utf8('['.repeat(n) + ']'.repeat(n)))).toThrow(MalformedError);
    expect(() => parseCanonical(utf8('['.repeat(100_000) + ']'.repeat(100_000)))).toThrow(MalformedError);
  });

  it('throws TypeError for a non-Uint8Array', () => {
    expect(() => parseCanonical('{}' as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe('properties', () => {
  const json = fc.jsonValue({ stringUnit: 'grapheme', maxDepth: 4 });

  it('canonical bytes parse back, and re-serialize byte-identically', () => {
    fc.assert(
      fc.property(json, (value) => {
        const bytes = canonicalBytes(value);
        const parsed = parseCanonical(bytes);
        expect(canonicalBytes(parsed)).toEqual(bytes);
        // Idempotent: the canonical form of the canonical form is itself.
        expect(canonicalize(JSON.parse(canonicalize(value)))).toBe(canonicalize(value));
      }),
      { numRuns: 500 },
    );
  });

  it('whitespace and member reordering are rejected unless the text is already canonical', () => {
    fc.assert(
      fc.property(json, fc.boolean(), (value, reverse) => {
        const reorder = (v: unknown): unknown =>
          Array.isArray(v)
            ? v.map(reorder)
            : typeof v === 'object' && v !== null
              ? Object.fromEntries(
                  (reverse ? Object.entries(v).reverse() : Object.entries(v)).map(([k, x]) => [
                    k,
                    reorder(x),
                  ]),
                )
              : v;
        for (const text of [JSON.stringify(value, null, 1), JSON.stringify(reorder(value))]) {
          if (text === canonicalize(value)) expect(canonicalize(parseCanonical(utf8(text)))).toBe(text);
          else expect(() => parseCanonical(utf8(text))).toThrow(NonCanonicalError);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('strings with unpaired surrogates are outside the domain', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const lone = /[\uD800-\uDFFF]/u.test(s);
        if (lone) expect(() => canonicalize(s)).toThrow(TypeError);
        else expect(parseCanonical(canonicalBytes(s))).toBe(s);
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary bytes either are canonical JSON or raise MalformedError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        let value: unknown;
        try {
          value = parseCanonical(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(MalformedError);
          return;
        }
        expect(canonicalBytes(value)).toEqual(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it('a mutated canonical text is either canonical or rejected with MalformedError', () => {
    fc.assert(
      fc.property(json, fc.nat(), fc.integer({ min: 0, max: 255 }), (value, at, byte) => {
        const bytes = canonicalBytes(value).slice();
        bytes[at % bytes.length] = byte;
        let parsed: unknown;
        try {
          parsed = parseCanonical(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(MalformedError);
          return;
        }
        expect(canonicalBytes(parsed)).toEqual(bytes);
      }),
      { numRuns: 1000 },
    );
  });
});
