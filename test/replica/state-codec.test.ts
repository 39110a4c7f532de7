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

  it('should reject bytes that are not a record state', () => {
    assert.throws(() => decodeRecordState(new Uint8Array([0x11, 0])), DecodeError);
    assert.throws(() => decodeRecordState(new Uint8Array([0x13, 1, 0])), DecodeError);
  });
});
