import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeValue, encodeValue } from '../../src/codec/index.ts';
import { RecordRef, type Value, valuesEqual } from '../../src/values/value.ts';
import { valueArb } from '../helpers/arbitraries.ts';
import { checkProperty } from '../helpers/property.ts';

describe('BlazeBinary values', () => {
  it('should round-trip any valid value bit-exactly', () => {
    checkProperty(
      'value round trip',
      fc.property(valueArb, (v) => {
        const back = decodeValue(encodeValue(v));
        assert.ok(valuesEqual(back, v), 'round trip changed the value');
        // Same bytes again: the encoding is canonical.
        assert.deepEqual(encodeValue(back), encodeValue(v));
      }),
      { numRuns: 500 },
    );
  });

  it('should keep the type of every kind of value', () => {
    const cases: [Value, (v: Value) => boolean][] = [
      [-0, (v) => Object.is(v, -0)],
      [5e-324, (v) => v === 5e-324],
      [2n ** 63n - 1n, (v) => v === 2n ** 63n - 1n],
      [-(2n ** 63n), (v) => v === -(2n ** 63n)],
      [1n, (v) => typeof v === 'bigint'],
      [new Date(-1), (v) => v instanceof Date && v.getTime() === -1],
      [new RecordRef('bugs', 'ab'), (v) => v instanceof RecordRef && v.id === 'ab'],
      [new Uint8Array([1, 2]), (v) => v instanceof Uint8Array && v.length === 2],
      ['héllo wörld, ünïcode 🎉', (v) => v === 'héllo wörld, ünïcode 🎉'],
    ];
    for (const [value, check] of cases) assert.ok(check(decodeValue(encodeValue(value))), String(value));
  });

  it('should put small integers and short strings in one tag byte', () => {
    assert.equal(encodeValue(10).length, 2); // version + fixint
    assert.equal(encodeValue('open').length, 6); // version + fixstr tag + 4 bytes
    assert.equal(encodeValue(null).length, 2);
  });

  it('should encode maps with sorted keys so equal maps have equal bytes', () => {
    assert.deepEqual(encodeValue({ b: 1, a: 2 }), encodeValue({ a: 2, b: 1 }));
  });
});
