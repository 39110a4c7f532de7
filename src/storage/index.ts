/**
 * Storage: where the database keeps its bytes. `SqliteStorage` is the embedded default,
 * `MemoryStorage` serves tests and the simulator; both satisfy `Storage`.
 */
export { NotABlazeStoreError, StorageError, StoreVersionError } from './errors.ts';
export { MemoryStorage } from './memory.ts';
export { APPLICATION_ID, checkStoreFile, type Durability, FORMAT_VERSION, SqliteStorage, type SqliteStorageInit } from './sqlite.ts';
export {
  type CompactedOp,
  compareBytes,
  type KeyRange,
  type OpRow,
  type RecordRow,
  type SnapshotRecord,
  type Storage,
  type StorageSnapshot,
  type StoredOp,
  type VersionRow,
} from './storage.ts';
