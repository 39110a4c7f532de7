import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BatchReadContext, BatchWriteContext, decodeBatch, decodeOp, encodeBatch, encodeOp } from '../../src/codec/index.ts';
import type { NodeId } from '../../src/identity/node-id.ts';
import type { Op } from '../../src/ops/op.ts';
import { valuesEqual } from '../../src/values/value.ts';
import { opArb } from '../helpers/arbitraries.ts';
import { checkProperty } from '../helpers/property.ts';

/** Ops are equal when every part is, values compared bit-exactly. */
function assertOpsEqual(actual: readonly Op[], expected: readonly Op[]): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as Op;
    const e = expected[i] as Op;
    const { fields: af, ...aHead } = a;
    const { fields: ef, ...eHead } = e;
    assert.deepEqual(aHead, eHead);
    assert.equal(af.length, ef.length);
    for (let j = 0; j < ef.length; j++) {
      const x = af[j] as unknown as Record<string, unknown>;
      const y = ef[j] as unknown as Record<string, unknown>;
      assert.equal(x.type, y.type);
      assert.equal(x.field, y.field);
      if ('value' in y) assert.ok(valuesEqual(x.value as never, y.value as never), 'field value differs');
      if ('delta' in y) assert.equal(x.delta, y.delta);
      if ('observed' in y) assert.deepEqual(x.observed, y.observed);
    }
  }
}

const node = '0123456789abcdef' as NodeId;
const priorityUpdate: Op = {
  node,
  seq: 1000,
  wall: 1_795_000_000_000,
  counter: 0,
  collection: 'bugs',
  record: '8f14e45fceea167a5a36dedd4bea2543',
  kind: 'update',
  fields: [{ type: 'set', field: 'priority', value: 10 }],
};

describe('BlazeBinary ops', () => {
  it('should round-trip any op, alone and in batches', () => {
    checkProperty(
      'op round trip',
      fc.property(fc.array(opArb, { maxLength: 12 }), (ops) => {
        for (const op of ops) assertOpsEqual([decodeOp(encodeOp(op))], [op]);
        assertOpsEqual(decodeBatch(encodeBatch(ops)), ops);
      }),
      { numRuns: 300 },
    );
  });

  it('should encode the priority 5 -> 10 update in 47 bytes with every header', () => {
    // version 1 + header 1 + node 8 + seq 2 + wall 6 + "bugs" 4 + id 16 + "priority" 8 + value 1
    assert.equal(encodeOp(priorityUpdate).length, 47);
  });

  it('should write short ASCII names without a length byte, and others escaped', () => {
    const op = { ...priorityUpdate, collection: 'bügs', fields: [{ type: 'set' as const, field: 'p', value: 1 }] };
    // 'bügs' is 5 UTF-8 bytes: escape + length + 5; 'p' is one marked byte.
    assert.equal(encodeOp(op).length, 47 - 4 - 8 + 7 + 1);
    assert.equal(decodeOp(encodeOp(op)).collection, 'bügs');
  });

  it('should intern repeated nodes, names and records within a batch', () => {
    const ops = Array.from({ length: 100 }, (_, i) => ({ ...priorityUpdate, seq: 1000 + i, wall: priorityUpdate.wall + i }));
    const bytes = encodeBatch(ops);
    // The first op spells everything out (~55 bytes); each later one is header, node index,
    // seq gap, wall delta, collection, record and field indexes, value: 8 bytes.
    assert.ok(bytes.length <= 60 + 99 * 8, `batch of 100 took ${bytes.length} bytes`);
    assertOpsEqual(decodeBatch(bytes), ops);
  });

  it("should continue interning across the batches of a stream, within the tables' capacity", () => {
    checkProperty(
      'stream round trip',
      fc.property(fc.array(fc.array(opArb, { maxLength: 6 }), { maxLength: 6 }), fc.integer({ min: 0, max: 3 }), (batches, cap) => {
        const capacity = { nodes: cap, names: cap, records: cap };
        const writer = new BatchWriteContext(capacity);
        const reader = new BatchReadContext(capacity);
        for (const ops of batches) assertOpsEqual(decodeBatch(encodeBatch(ops, writer), reader), ops);
      }),
      { numRuns: 200 },
    );
    // A record sent again in a later batch of the stream costs an index, not its 16 bytes.
    const writer = new BatchWriteContext();
    const first = encodeBatch([priorityUpdate], writer).length;
    const again = encodeBatch([{ ...priorityUpdate, seq: 1001, wall: priorityUpdate.wall + 1 }], writer).length;
    assert.ok(again <= first - 30, `${first} then ${again} bytes`);
  });

  it('should pack default 128-bit ids as 16 bytes and keep other ids as text', () => {
    const other = { ...priorityUpdate, record: 'Bug-42' };
    assert.equal(encodeOp(other).length, encodeOp(priorityUpdate).length - 16 + 7);
    assert.equal(decodeOp(encodeOp(other)).record, 'Bug-42');
  });
});
