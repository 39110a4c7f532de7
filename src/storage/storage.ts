/**
 * The storage interface: what the database needs from a place to keep its bytes. Two
 * implementations, SQLite (the embedded default) and memory (tests and the simulator), pass
 * the same acceptance suite (test/storage/). All calls are synchronous: both engines are, and
 * it keeps a write's ops, record states and version vector in one transaction.
 *
 * Storage sees only bytes and keys: encoding, merging and encryption happen above it.
 */

export interface OpRow {
  readonly node: string;
  readonly seq: number;
  readonly collection: string;
  readonly record: string;
  /** BlazeBinary op, possibly encrypted. */
  readonly payload: Uint8Array;
}

/** An op as read back: its dot and payload. */
export interface StoredOp {
  readonly node: string;
  readonly seq: number;
  readonly payload: Uint8Array;
}

export interface RecordRow {
  /** BlazeBinary record merge state, possibly encrypted. */
  readonly state: Uint8Array;
  /** The record's visible fields (BlazeBinary map), possibly encrypted; null while it does not exist. */
  readonly doc: Uint8Array | null;
}

export interface VersionRow {
  readonly seq: number;
  /** Seqs seen beyond the first gap (usually empty). */
  readonly ahead: readonly number[];
}

/** An op compaction removed from the log. */
export interface CompactedOp {
  readonly seq: number;
  readonly collection: string;
  readonly record: string;
}

/** A record row as a snapshot holds it. */
export interface SnapshotRecord {
  readonly collection: string;
  readonly id: string;
  readonly row: RecordRow;
  /** The record's op count, stored and compacted (its version in an encrypted store). */
  readonly opCount: number;
}

/**
 * A read-only view of the record rows and the version vector as of one commit, for streaming a
 * snapshot of the store while writes go on. Holding it open keeps that state around (for SQLite,
 * the WAL cannot be checkpointed past it): close it when done. Closing the storage closes it too.
 */
export interface StorageSnapshot {
  versions(): Map<string, VersionRow>;
  /**
   * Every record row (rows with doc null included) with its op count, in store order: by
   * collection (as `collections()` sorts them), then in the order `scanDocs` uses. Read lazily.
   */
  records(): Iterable<SnapshotRecord>;
  close(): void;
}

/** A range over index keys (byte strings compared as unsigned bytes). */
export interface KeyRange {
  readonly lower?: Uint8Array;
  readonly lowerInclusive?: boolean;
  readonly upper?: Uint8Array;
  readonly upperInclusive?: boolean;
}

export interface Storage {
  /** 'sqlite' or 'memory'. */
  readonly kind: string;

  /** Runs `fn` in one atomic transaction: all of its writes land, or none (if it throws). */
  transaction<T>(fn: () => T): T;

  /**
   * True if another connection (another process on the same file) committed since the last
   * call. What this process cached from the store is then stale.
   */
  changedElsewhere(): boolean;

  getMeta(key: string): Uint8Array | undefined;
  setMeta(key: string, value: Uint8Array): void;
  deleteMeta(key: string): void;
  /** Meta entries whose key starts with `prefix`, in key order. */
  scanMeta(prefix: string): Iterable<[key: string, value: Uint8Array]>;

  /** Appends an op; its (node, seq) must be new. */
  appendOp(row: OpRow): void;
  getOp(node: string, seq: number): Uint8Array | undefined;
  /** `node`'s ops with seq > `afterSeq`, in seq order, at most `limit`. */
  opsAfter(node: string, afterSeq: number, limit: number): StoredOp[];
  /** Every op on one record, in no particular order. */
  opsOfRecord(collection: string, record: string): StoredOp[];
  /** Every op on a collection, in no particular order. */
  opsOfCollection(collection: string): Iterable<StoredOp>;
  /** Ops in the log now (compacted ones excluded). */
  opCount(): number;
  /**
   * How many ops of one record were stored, counting those compaction removed since: encryption
   * binds record rows to it, so it must never go down.
   */
  opCountOfRecord(collection: string, record: string): number;
  /**
   * Removes `node`'s ops with seq <= `throughSeq` from the log, lowest seq first, at most `limit`
   * of them, and returns them. A removed op still counts in its record's op count
   * (`opCountOfRecord`, `getRecordAndOpCount`, `scanDocsWithOpCounts`), which encrypted stores use
   * as the record's version; so a compacted op must not be appended again (its dot is free in the
   * log, but it would count twice). Atomic: part of the caller's transaction, or its own outside one.
   */
  compactOps(node: string, throughSeq: number, limit: number): CompactedOp[];
  /**
   * Removes one op from the log (a void: a relay rejected it) and returns where it was, or
   * undefined if it is not stored. Like a compacted op it still counts in its record's op count.
   */
  removeOp(node: string, seq: number): CompactedOp | undefined;

  getRecord(collection: string, id: string): RecordRow | undefined;
  /** The record row and its op count (`opCountOfRecord`), read together (one snapshot). */
  getRecordAndOpCount(collection: string, id: string): { row: RecordRow | undefined; opCount: number };
  putRecord(collection: string, id: string, row: RecordRow): void;
  /** Existing records (doc not null) of a collection, in the order the store keeps them. */
  scanDocs(collection: string): Iterable<[id: string, doc: Uint8Array]>;
  /** `scanDocs`, with each record's op count (`opCountOfRecord`). */
  scanDocsWithOpCounts(collection: string): Iterable<[id: string, doc: Uint8Array, opCount: number]>;
  /** Number of existing records in a collection. */
  countDocs(collection: string): number;
  /** Collections that have at least one record row (existing or not). */
  collections(): string[];

  /** Version vector entries: node -> highest seq with no gap below, and seqs seen beyond a gap. */
  loadVersions(): Map<string, VersionRow>;
  setVersion(node: string, row: VersionRow): void;

  addIndexEntry(index: string, key: Uint8Array, id: string): void;
  removeIndexEntry(index: string, key: Uint8Array, id: string): void;
  /** Ids whose key lies in `range`, in key order (then id). */
  scanIndex(index: string, range: KeyRange): Iterable<string>;
  dropIndex(index: string): void;

  /**
   * A consistent read-only view of every record row and the version vector as of the last commit,
   * unaffected by writes made afterwards (through this storage or another connection) until
   * closed. Refused inside a transaction, whose writes are not committed yet.
   */
  snapshotReader(): StorageSnapshot;

  close(): void;
}

/** Unsigned lexicographic byte comparison, the order index keys sort in. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
