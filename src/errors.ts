/**
 * Errors shared across BlazeDB. One class per failure mode, each with a stable `name`:
 * callers and tests match on `name` (or `instanceof`), never on message text.
 */

/** Base class of every error BlazeDB throws on purpose. */
export class BlazeError extends Error {
  override name = 'BlazeError';
}

/** A value, name or argument given by the caller is outside what BlazeDB accepts. Nothing was written. */
export class ValidationError extends BlazeError {
  override name = 'ValidationError';
  /** Where in the input the problem is, e.g. `fields.tags[2]`. */
  readonly path: string;
  readonly reason: string;
  constructor(path: string, reason: string) {
    super(path === '' ? reason : `${path}: ${reason}`);
    this.path = path;
    this.reason = reason;
  }
}

/** Untrusted bytes could not be decoded. The only error a decoder ever throws. */
export class DecodeError extends BlazeError {
  override name = 'DecodeError';
  /** Byte offset where decoding failed (-1 when not known). */
  readonly offset: number;
  constructor(reason: string, offset = -1) {
    super(offset >= 0 ? `${reason} (at byte ${offset})` : reason);
    this.offset = offset;
  }
}

/**
 * Another replica holds ops under this node's id with a higher sequence than this store has:
 * the store was restored from a backup or copied to a second device. Writing on would reissue
 * dots that others already hold. Take a new identity (`replica.adoptIdentity`) first.
 */
export class IdentityReusedError extends BlazeError {
  override name = 'IdentityReusedError';
  constructor(nodeId: string, localSeq: number, remoteSeq: number) {
    super(
      `node id ${nodeId} is in use elsewhere: a peer holds seq ${remoteSeq}, this store only ${localSeq}; ` +
        'this store was restored or cloned and must take a new identity before writing',
    );
  }
}

/** A field op of one CRDT type was written to a field declared with another strategy. */
export class StrategyMismatchError extends BlazeError {
  override name = 'StrategyMismatchError';
  constructor(collection: string, field: string, declared: string, attempted: string) {
    super(`${collection}.${field} is declared '${declared}'; a '${attempted}' op is not allowed`);
  }
}
