/**
 * Base states: per record, the merge state of its ops that compaction removed from the log.
 * The record's row keeps its full current state (what merging needs); the base is what history
 * and time travel replay the ops still in the log on top of. Kept in the store's meta, sealed
 * like every other payload when the store is encrypted.
 */

import type { Engine } from '../db/engine.ts';
import { recordKey } from '../db/engine.ts';
import { decodeRecordState, encodeRecordState, type RecordState } from '../replica/index.ts';

const PREFIX = 'base:';
const baseKey = (collection: string, id: string) => `${PREFIX}${recordKey(collection, id)}`;
const collectionPrefix = (collection: string) => `${PREFIX}${collection.length}:${collection}:`;

export function loadBase(engine: Engine, collection: string, id: string): RecordState | undefined {
  const key = baseKey(collection, id);
  const bytes = engine.storage.getMeta(key);
  return bytes ? decodeRecordState(engine.cipher.open(key, bytes)) : undefined;
}

export function storeBase(engine: Engine, collection: string, id: string, state: RecordState): void {
  const key = baseKey(collection, id);
  engine.storage.setMeta(key, engine.cipher.seal(key, encodeRecordState(state)));
}

/** Every base state of a collection: record id and state. */
export function* basesOf(engine: Engine, collection: string): Iterable<[id: string, state: RecordState]> {
  const prefix = collectionPrefix(collection);
  for (const [key, bytes] of engine.storage.scanMeta(prefix)) {
    yield [key.slice(prefix.length), decodeRecordState(engine.cipher.open(key, bytes))];
  }
}
