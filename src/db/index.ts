/**
 * The database API: `BlazeDB.open`, collections, queries, live queries, transactions.
 */
export { type PayloadCipher, plaintext } from '../crypto/payload-cipher.ts';
export { type AckLevel, AckTracker, type PeerAck } from './acks.ts';
export { Collection, type ConflictInfo, type Fields, type Stored } from './collection.ts';
export {
  BlazeDB,
  type OpenOptions,
  STORE_FILE,
  type Stats,
  SyncNotEnabledError,
  type TimeView,
  validateDbId,
} from './database.ts';
export { type CommittedChange, Engine } from './engine.ts';
export { AlreadyExistsError, ClosedError, DatabaseIdMismatchError, IdentityMismatchError, NotFoundError } from './errors.ts';
export { type FieldChange, type HistoryEntry, HistoryRetentionError, OpNotFoundError, type TimePoint } from './history.ts';
export type { LiveResult } from './live.ts';
export {
  type EnableSyncOptions,
  type RejectedWrite,
  registerSyncNetwork,
  type SyncNetwork,
  type SyncNetworkEvents,
  type SyncNetworkFactory,
  type SyncState,
} from './sync-network.ts';
