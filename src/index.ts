/**
 * BlazeDB core engine: values, the BlazeBinary codec, the hybrid logical clock, device
 * identity, field-level ops and the CRDT replica.
 *
 * Usage:
 *   import { Replica, HybridClock, generateIdentity, systemClock, cryptoRandom, encodeBatch } from 'blazedb';
 *   const { nodeId } = generateIdentity(cryptoRandom);
 *   const replica = new Replica({ nodeId, clock: new HybridClock({ wallClock: systemClock }) });
 *   const op = replica.insert('bugs', 'bug-1', { title: 'Login broken', priority: 5 });
 *   const bytes = encodeBatch([op]); // to another replica, which calls replica.apply(op)
 */
export { type ClockSkewEvent, DEFAULT_MAX_DRIFT_MS, type HlcTime, HybridClock, type HybridClockInit } from './clock/hlc.ts';
export { compareStamps, type Stamp } from './clock/stamp.ts';
export { compressBlock, decodeBatch, decodeOp, decodeValue, decompressBlock, encodeBatch, encodeOp, encodeValue } from './codec/index.ts';
export {
  type AckLevel,
  type AckLevel as SyncAckLevel,
  AckTracker,
  AlreadyExistsError,
  BlazeDB,
  ClosedError,
  Collection,
  type ConflictInfo,
  DatabaseIdMismatchError,
  type EnableSyncOptions,
  type Fields,
  HistoryRetentionError,
  type LiveResult,
  NotFoundError,
  type OpenOptions,
  type PeerAck,
  type RejectedWrite,
  registerSyncNetwork,
  type Stats,
  type Stored,
  type SyncNetwork,
  type SyncNetworkEvents,
  type SyncNetworkFactory,
  SyncNotEnabledError,
  type SyncState,
} from './db/index.ts';
export { BlazeError, DecodeError, IdentityReusedError, StrategyMismatchError, ValidationError } from './errors.ts';
export type { CompactionResult, GcStatus, MemberStatus } from './gc/collector.ts';
export type { GcAnnouncement, Member } from './gc/gc-state.ts';
export type { GcOptions } from './gc/options.ts';
export { generateIdentity, type Identity, identityFromSeed, nodeIdFromPublicKey } from './identity/identity.ts';
export { isNodeId, type NodeId } from './identity/node-id.ts';
export type { AddOp, Dot, FieldOp, IncOp, MvSetOp, Op, OpKind, RemoveOp, SetOp, Strategy } from './ops/op.ts';
export { cryptoRandom, realScheduler, systemClock } from './platform/index.ts';
export { type Condition, type FindOptions, type Plan, type Query, QueryError } from './query/index.ts';
export { type Conflict, Replica, type ReplicaInit, SCHEMA_COLLECTION, VersionVector } from './replica/index.ts';
export type { Cancel, Random, Scheduler, WallClock } from './runtime.ts';
export {
  type Durability,
  MemoryStorage,
  NotABlazeStoreError,
  SqliteStorage,
  type Storage,
  StorageError,
  StoreVersionError,
} from './storage/index.ts';
export {
  type Authorizer,
  type CloseCode,
  createPipe,
  databaseSource,
  type FrameDuplex,
  PROTOCOL_ID,
  SyncError,
  SyncSession,
  type SyncSessionInit,
} from './sync/index.ts';
export { SeededRandom } from './util/prng.ts';
export { validateValue } from './values/validate.ts';
export { RecordRef, type Value, valuesEqual } from './values/value.ts';
