/**
 * Sync: transport-agnostic sessions that exchange ops by version vector, then push live.
 *
 * Usage:
 *   const [a, b] = createPipe();
 *   new SyncSession({ source: databaseSource(dbA), duplex: a }).start();
 *   new SyncSession({ source: databaseSource(dbB), duplex: b }).start();
 */
export { DEFAULT_BATCH_OPS, DEFAULT_MAX_FRAME_BYTES, PROTOCOL_ID, PROTOCOL_MAJOR, PROTOCOL_MINOR } from './constants.ts';
export { createPipe, DuplexHandlers, type FrameDuplex, type PipeOptions } from './duplex.ts';
export { databaseSource } from './engine-source.ts';
export { type CloseCode, SyncError } from './errors.ts';
export { type CollectionFilterSpec, FilterError, SyncFilter, type SyncFilterSpec } from './filter.ts';
export { type FirstHello, NoHelloError, readHello, refuse } from './first-hello.ts';
export { type Ack, type AckLevel, decodeMessage, encodeMessage, type Hello, type Message, type Role } from './messages.ts';
export {
  type Authorizer,
  type PeerInfo,
  type SessionState,
  type SessionStats,
  SyncSession,
  type SyncSessionInit,
  type SyncSource,
  type Verdict,
} from './session.ts';
