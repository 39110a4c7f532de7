import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { HybridClock } from '../../src/clock/hlc.ts';
import { DecodeError } from '../../src/errors.ts';
import type { Op } from '../../src/ops/op.ts';
import { decodeRecordState, encodeRecordState, type RecordState, Replica } from '../../src/replica/index.ts';
import { checkProperty } from '../helpers/property.ts';
import { RECORDS, runSteps, stepArb } from '../helpers/random-ops.ts';
import { makeReplica, node } from '../helpers/replicas.ts';

describe('record state codec', () => {
  it('should keep everything merging needs: a reloaded replica merges on exactly like one that never stopped', () => {
    checkProperty(
      'state codec merge',
      fc.property(fc.array(stepArb, { minLength: 20, maxLength: 150, size: 'max' }), fc.nat(), (steps, cut) => {
        const { log: created } = runSteps(3, steps);
        // Deliver in a seeded random order so writes often arrive before what they observed.
        const log = [...created];
        let seed = cut;
        for (let i = log.length - 1; i > 0; i--) {
          seed = (seed * 1103515245 + 12345) % 2147483648;
          const j = seed % (i + 1);
          [log[i], log[j]] = [log[j] as Op, log[i] as Op];
        }
        const split = log.length === 0 ? 0 : cut % (log.length + 1);
        const reference = makeReplica(node('f')).replica;
        const before = makeReplica(node('f')).replica;
        for (const op of log) reference.apply(op);
        for (const op of log.slice(0, split)) before.apply(op);
        // Persist every record state as bytes, and reload through a source.
        const stored = new Map<string, Uint8Array>();
        for (const id of RECORDS) {
          const state = before.recordState('c', id);
          if (state) stored.set(id, encodeRecordState(state));
        }
        const reloaded = new Replica({
          nodeId: node('f'),
          clock: new HybridClock({ wallClock: { now: () => 1_800_000_000_000 } }),
          version: before.version,
          source: {
            load: (collection: string, id: string): RecordState | undefined =>
              collection === 'c' && stored.has(id) ? decodeRecordState(stored.get(id) as Uint8Array) : undefined,
          },
        });
        for (const op of log.slice(split) as Op[]) reloaded.apply(op);
        for (const id of RECORDS) {
          assert.deepStrictEqual(reloaded.get('c', id), reference.get('c', id));
          assert.deepStrictEqual(reloaded.conflicts('c', id), reference.conflicts('c', id));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('should write a stamp repeated across fields once, and still read states stored before that', () => {
    const { replica } = makeReplica(node('a'));
    replica.insert('c', 'r', { a: 1, b: 2, c: 3, d: 4 });
    const state = replica.recordState('c', 'r') as RecordState;
    const bytes = encodeRecordState(state);
    // Version, flags, the insert stamp (ref 0, 8 node bytes, wall, counter), then per field
    // a name, flags, strategy, a 1-byte repeated stamp, seq and value: far below 10 bytes a stamp.
    assert.ok(bytes.length < 60, `${bytes.length} bytes`);
    assert.deepEqual(decodeRecordState(bytes).view(), { a: 1, b: 2, c: 3, d: 4 });
    // A 0x13 state: insert stamp with a node literal (ref 0), then a tombstone naming it by
    // index 1 (0x13 indexes from 1), no fields.
    const nodeBytes = [0, 1, 2, 3, 4, 5, 6, 7];
    const legacy = new Uint8Array([0x13, 3, 0, ...nodeBytes, 2, 0, 1, 4, 1, 0]);
    const old = decodeRecordState(legacy);
    assert.equal(old.insert?.node, '0001020304050607');
    assert.equal(old.tombstone?.node, '0001020304050607');
    assert.equal(old.visible, false);
  });

  it('should reject bytes that are not a record state', () => {
    assert.throws(() => decodeRecordState(new Uint8Array([0x11, 0])), DecodeError);
    assert.throws(() => decodeRecordState(new Uint8Array([0x13, 1, 0])), DecodeError);
    // A repeated stamp with none before it.
    assert.throws(() => decodeRecordState(new Uint8Array([0x14, 1, 1, 0])), DecodeError);
  });
});
