/**
 * Base states: per record, the merge state of its ops that compaction removed from the log.
 * The record's row keeps its full current state (what merging needs); the base is what history
 * and time travel replay the ops still in the log on top of. Kept in the store's meta, sealed
 * like every other payload when the store is encrypted.
 */

import { HybridClock } from '../clock/hlc.ts';
import type { NodeId } from '../identity/node-id.ts';
import { decodeRecordState, encodeRecordState, type RecordState, Replica } from '../replica/index.ts';
import type { Engine } from './engine.ts';
import { recordKey } from './record-key.ts';

const PREFIX = 'base:';
const baseKey = (collection: string, id: string) => `${PREFIX}${recordKey(collection, id)}`;
const collectionPrefix = (collection: string) => `${PREFIX}${collection.length}:${collection}:`;

/**
 * A record's base state: the stored copy, or the record's state itself while that is its base
 * (RecordState.baseIsState). Undefined: nothing of the record was compacted.
 */
export function loadBase(engine: Engine, collection: string, id: string): RecordState | undefined {
  const stored = loadStoredBase(engine, collection, id);
  if (stored) return stored;
  const state = engine.replica.recordState(collection, id);
  // A copy: replays apply ops to it, and the record's own state must not change.
  return state?.baseIsState ? decodeRecordState(encodeRecordState(state)) : undefined;
}

/** A record's stored base copy, if it has one (else its base is its state, or nothing). */
export function loadStoredBase(engine: Pick<Engine, 'storage' | 'cipher'>, collection: string, id: string): RecordState | undefined {
  const key = baseKey(collection, id);
  const bytes = engine.storage.getMeta(key);
  return bytes ? decodeRecordState(engine.cipher.open(key, bytes)) : undefined;
}

/**
 * A replica for replays on top of base states (history, time travel, compaction): it never
 * writes, so its clock is never read, and it counts the dots at or below the horizon as seen,
 * since the bases hold them (an op that observed one does not wait for it).
 */
export function replayReplica(horizon: ReadonlyMap<NodeId, number>): Replica {
  const replica = new Replica({ nodeId: '0000000000000000' as NodeId, clock: new HybridClock({ wallClock: { now: () => 0 } }) });
  for (const [node, seq] of horizon) replica.version.restore(node, seq);
  return replica;
}

/** Whether a record has a stored base copy (else its base is its state, or nothing). */
export function hasStoredBase(engine: Pick<Engine, 'storage'>, collection: string, id: string): boolean {
  return engine.storage.getMeta(baseKey(collection, id)) !== undefined;
}

export function storeBase(
  engine: Pick<Engine, 'storage' | 'cipher'>,
  collection: string,
  id: string,
  state: RecordState | Uint8Array,
): void {
  const key = baseKey(collection, id);
  engine.storage.setMeta(key, engine.cipher.seal(key, state instanceof Uint8Array ? state : encodeRecordState(state)));
}

/** Every base state of a collection: record id and state. */
export function* basesOf(engine: Engine, collection: string): Iterable<[id: string, state: RecordState]> {
  const prefix = collectionPrefix(collection);
  for (const [key, bytes] of engine.storage.scanMeta(prefix)) {
    yield [key.slice(prefix.length), decodeRecordState(engine.cipher.open(key, bytes))];
  }
}

/** Whether some of a record's ops are folded into a base (a stored copy, or its own state). */
export function hasCompactedHistory(engine: Engine, collection: string, id: string): boolean {
  return hasStoredBase(engine, collection, id) || engine.replica.recordState(collection, id)?.baseIsState === true;
}
