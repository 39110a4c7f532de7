/** Why a session ended. Matched on `code`, stable across versions. */
import { BlazeError } from '../errors.ts';

export type CloseCode =
  /** The peer speaks a protocol major version this node does not. */
  | 'version-unsupported'
  /** The peer belongs to another database. */
  | 'wrong-database'
  /** The authorizer refused the peer's credentials. */
  | 'unauthorized'
  /** The credentials are good but the rules do not let the peer read what its filter asks for. */
  | 'forbidden'
  /** A frame could not be decoded. */
  | 'malformed-frame'
  /** A frame was larger than the limit. */
  | 'frame-too-large'
  /** An op skipped ahead of what the receiver holds of its origin (a hole in the sequence). */
  | 'gap'
  /** A message arrived where the protocol does not allow it (e.g. ops before the handshake). */
  | 'protocol'
  /** Applying received ops failed locally. */
  | 'apply-failed'
  /** The peer closed the session. */
  | 'peer-closed'
  /** This node closed it (shutdown, sync disabled). */
  | 'local-close'
  /** A snapshot chunk failed its checksum: nothing of it was applied; the next session fetches it again. */
  | 'corrupt-snapshot'
  /** The peer lacks ops compacted away, and no snapshot can be made for it (docs/gc.md). */
  | 'snapshot-unavailable'
  /** The peer sent ops faster than the node allows (a relay's per-peer limit); it may come back later. */
  | 'rate-limited'
  /** The peer read nothing for the node's stall timeout (its transport stayed full). */
  | 'too-slow';

const CODES: ReadonlySet<string> = new Set<CloseCode>([
  'version-unsupported',
  'wrong-database',
  'unauthorized',
  'forbidden',
  'malformed-frame',
  'frame-too-large',
  'gap',
  'protocol',
  'apply-failed',
  'peer-closed',
  'local-close',
  'corrupt-snapshot',
  'snapshot-unavailable',
  'rate-limited',
  'too-slow',
]);

export function isCloseCode(code: string): code is CloseCode {
  return CODES.has(code);
}

export class SyncError extends BlazeError {
  override name = 'SyncError';
  readonly code: CloseCode;
  /** The peer's CLOSE said so (this side did not find the fault itself). */
  readonly byPeer: boolean;
  constructor(code: CloseCode, message: string, byPeer = false) {
    super(`${code}: ${message}`);
    this.code = code;
    this.byPeer = byPeer;
  }
}
