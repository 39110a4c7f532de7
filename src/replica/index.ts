/**
 * The CRDT replica: per-field merge of ops, version vectors, local writes as ops.
 *
 * Usage:
 *   const replica = new Replica({ nodeId, clock: new HybridClock({ wallClock: systemClock }) });
 *   const op = replica.update('bugs', id, { priority: 10 }); // applied here; ship `op` to peers
 *   otherReplica.apply(op);                                  // idempotent, any order
 */

export { joinRecordState } from './join.ts';
export type { Conflict } from './record-state.ts';
export { RecordState } from './record-state.ts';
export { type RecordChange, type RecordSource, Replica, type ReplicaInit, SCHEMA_COLLECTION } from './replica.ts';
export { decodeRecordState, encodeRecordState, STATE_BASE_IS_STATE } from './state-codec.ts';
export { VersionVector } from './version-vector.ts';
