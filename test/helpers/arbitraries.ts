/** fast-check arbitraries for values and ops, shared by the codec and replica tests. */
import fc from 'fast-check';
import type { NodeId } from '../../src/identity/node-id.ts';
import type { Dot, FieldOp, Op } from '../../src/ops/op.ts';
import { RecordRef, type Value } from '../../src/values/value.ts';

export const nodeIdArb: fc.Arbitrary<NodeId> = fc
  .uint8Array({ minLength: 8, maxLength: 8 })
  .map((b) => Buffer.from(b).toString('hex') as NodeId);

export const nameArb = fc.oneof(
  fc.constantFrom('bugs', 'priority', 'title', 'tags', 'x', 'ünïcødé', 'a'.repeat(40), 'n'.repeat(255), 'ü'.repeat(127)),
  fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme' }).filter((s) => s !== '__proto__' && !s.includes('\0')),
);

export const recordIdArb = fc.oneof(
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('hex')),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => Buffer.from(b).toString('hex')),
  fc.string({ minLength: 1, maxLength: 30, unit: 'grapheme' }),
  fc.constantFrom('ABCDEF', 'abc', '0', 'deadbeef'),
);

const floatArb = fc.double({ noNaN: true, noDefaultInfinity: true }).filter(Number.isFinite);

export const scalarArb: fc.Arbitrary<Value> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -100, max: 100 }),
  fc.maxSafeInteger(),
  fc.constantFrom(0, -0, 63, 64, -1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 5e-324, -5e-324, 2 ** 53, 1e300),
  floatArb,
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => s.isWellFormed()),
  fc.uint8Array({ maxLength: 40 }),
  fc.integer({ min: -8.64e15, max: 8.64e15 }).map((ms) => new Date(ms)),
  fc.tuple(nameArb, recordIdArb).map(([c, id]) => new RecordRef(c, id)),
);

export const valueArb: fc.Arbitrary<Value> = fc.letrec<{ value: Value }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalarArb,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(
      fc.string({ maxLength: 10, unit: 'grapheme' }).filter((k) => k !== '__proto__'),
      tie('value'),
      { maxKeys: 5 },
    ),
  ),
})).value;

const plain = { noNullPrototype: true } as const;

const dotArb: fc.Arbitrary<Dot> = fc.record({ node: nodeIdArb, seq: fc.integer({ min: 1, max: 2 ** 40 }) }, plain);

export const fieldOpArb: fc.Arbitrary<FieldOp> = fc.oneof(
  fc.record({ type: fc.constant('set' as const), field: nameArb, value: valueArb }, plain),
  fc.record({ type: fc.constant('unset' as const), field: nameArb }, plain),
  fc.record({ type: fc.constant('mvset' as const), field: nameArb, value: valueArb, observed: fc.array(dotArb, { maxLength: 3 }) }, plain),
  fc.record({ type: fc.constant('inc' as const), field: nameArb, delta: fc.maxSafeInteger() }, plain),
  fc.record({ type: fc.constant('add' as const), field: nameArb, value: valueArb }, plain),
  fc.record({ type: fc.constant('remove' as const), field: nameArb, value: valueArb, observed: fc.array(dotArb, { maxLength: 3 }) }, plain),
);

const WALL_NOW = 1_795_000_000_000;

export const opArb: fc.Arbitrary<Op> = fc
  .record(
    {
      node: nodeIdArb,
      seq: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })),
      wall: fc.oneof(fc.integer({ min: WALL_NOW - 1e9, max: WALL_NOW + 1e9 }), fc.integer({ min: 0, max: 8.64e15 })),
      counter: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 40 })),
      collection: nameArb,
      record: recordIdArb,
      kind: fc.constantFrom('insert' as const, 'update' as const, 'delete' as const),
      fields: fc.array(fieldOpArb, { maxLength: 9 }),
    },
    plain,
  )
  .map((op) => (op.kind === 'delete' ? { ...op, fields: [] } : op));
