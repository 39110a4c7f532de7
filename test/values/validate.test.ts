import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../../src/errors.ts';
import { validateName, validateRecordId, validateValue } from '../../src/values/validate.ts';
import { RecordRef } from '../../src/values/value.ts';

function rejects(value: unknown, path: string, reason: RegExp): void {
  assert.throws(
    () => validateValue(value, 'fields.x'),
    (err: unknown) => err instanceof ValidationError && err.name === 'ValidationError' && err.path === path && reason.test(err.reason),
  );
}

describe('value validation', () => {
  it('should accept every kind of value', () => {
    const ok = [
      null,
      true,
      0,
      -0,
      1.5,
      2n ** 62n,
      'text',
      new Uint8Array(2),
      new Date(0),
      new RecordRef('bugs', 'x'),
      [1, [2]],
      { a: { b: [null] } },
      Object.create(null),
    ];
    for (const v of ok) validateValue(v, 'v');
  });

  it('should reject undefined, functions, symbols and class instances, naming the path', () => {
    rejects(undefined, 'fields.x', /undefined/);
    rejects({ a: [1, () => 1] }, 'fields.x.a[1]', /function/);
    rejects(Symbol('s'), 'fields.x', /symbol/);
    rejects(new Map(), 'fields.x', /Map instance/);
    rejects({ when: new (class Point {})() }, 'fields.x.when', /Point instance/);
  });

  it('should reject NaN, infinities, out-of-range bigints and invalid dates', () => {
    rejects(Number.NaN, 'fields.x', /finite/);
    rejects([Number.POSITIVE_INFINITY], 'fields.x[0]', /finite/);
    rejects(2n ** 63n, 'fields.x', /64-bit/);
    rejects(new Date(Number.NaN), 'fields.x', /invalid Date/);
  });

  it('should reject cycles, sparse arrays, lone surrogates and over-deep nesting', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    rejects(cyclic, 'fields.x.self', /cycle/);
    // biome-ignore lint/suspicious/noSparseArray: a hole is the point of this case
    rejects([1, , 3], 'fields.x[1]', /sparse/);
    rejects({ s: 'a\uD800b' }, 'fields.x.s', /surrogate/);
    let deep: unknown = 1;
    for (let i = 0; i < 70; i++) deep = [deep];
    assert.throws(() => validateValue(deep, 'v'), /deeper than 64/);
  });

  it('should accept a shared (non-cyclic) sub-value twice', () => {
    const shared = { a: 1 };
    validateValue({ left: shared, right: shared }, 'v');
  });

  it('should reject the __proto__ map key and symbol keys', () => {
    rejects(JSON.parse('{"__proto__": 1}'), 'fields.x.__proto__', /reserved/);
    rejects({ [Symbol('k')]: 1 }, 'fields.x', /symbol keys/);
  });

  it('should check names and record ids', () => {
    assert.throws(() => validateName('', 'collection'), ValidationError);
    assert.throws(() => validateName('x'.repeat(256), 'collection'), /255 bytes/);
    assert.throws(() => validateName(5, 'collection'), /must be a string/);
    assert.throws(() => validateRecordId(''), ValidationError);
    assert.throws(() => validateRecordId('\uDC00'), /surrogate/);
    validateRecordId('8f14e45fceea167a5a36dedd4bea2543');
  });
});
