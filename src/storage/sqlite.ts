/**
 * SQLite storage on Node's built-in `node:sqlite` (why this binding: docs/storage.md).
 *
 * WAL journal. `durability: 'process'` (default) uses synchronous=NORMAL: a committed
 * transaction survives the process being killed, but the last transactions may roll back on
 * power loss. `durability: 'power'` uses synchronous=FULL: every commit is fsynced.
 */
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { NotABlazeStoreError, StorageError, StoreVersionError } from './errors.ts';
import type { CompactedOp, KeyRange, OpRow, RecordRow, SnapshotRecord, Storage, StorageSnapshot, StoredOp, VersionRow } from './storage.ts';

/** 'Blz1' as a big-endian int: marks a SQLite file as a BlazeDB store. */
export const APPLICATION_ID = 0x426c7a31;
/** The store format this code writes. Bump it, with a migration, when the schema changes. */
export const FORMAT_VERSION = 3;

export type Durability = 'process' | 'power';

export interface SqliteStorageInit {
  /** Database file path. */
  path: string;
  durability?: Durability;
  /**
   * Takes over WAL checkpoints (e.g. on another thread), given the file path; returns a stop
   * function. Without it SQLite checkpoints inside the commit that fills the WAL (every 1,000
   * pages), which stalls that commit.
   */
  checkpointer?: (path: string) => () => void;
}

const SQLITE_MAGIC = 'SQLite format 3\0';

// Format 2: how many ops of each record compaction removed from blaze_ops. They still count in the
// record's version (encrypted rows are sealed under it), and the table stays small: one row per
// record that had ops compacted, looked up by primary key next to the count of its remaining ops.
const COMPACTED = `CREATE TABLE blaze_compacted(coll TEXT NOT NULL, rec TEXT NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY(coll, rec)) WITHOUT ROWID;
`;

// Rows are clustered in insertion order: ops in a rowid table, records by (collection, n) with n
// counting up per collection. New rows append, and only the small index entries land where the
// record id sorts (at the end for default ids, which start with a timestamp; anywhere for ids an
// app makes up): keying record rows by random ids made every insert dirty a full leaf page of
// record data (about 35% fewer writes per second), and a rowid table with an id index made
// collection scans jump around the file (about 70% slower).
const SCHEMA = `
CREATE TABLE blaze_meta(key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE blaze_ops(node TEXT NOT NULL, seq INTEGER NOT NULL, coll TEXT NOT NULL, rec TEXT NOT NULL, payload BLOB NOT NULL);
CREATE UNIQUE INDEX blaze_ops_by_dot ON blaze_ops(node, seq);
CREATE INDEX blaze_ops_by_record ON blaze_ops(coll, rec);
CREATE TABLE blaze_records(coll TEXT NOT NULL, n INTEGER NOT NULL, id TEXT NOT NULL, state BLOB NOT NULL, doc BLOB,
  PRIMARY KEY(coll, n)) WITHOUT ROWID;
CREATE UNIQUE INDEX blaze_records_by_key ON blaze_records(coll, id);
CREATE TABLE blaze_versions(node TEXT PRIMARY KEY, seq INTEGER NOT NULL, ahead TEXT) WITHOUT ROWID;
CREATE TABLE blaze_index(name TEXT NOT NULL, key BLOB NOT NULL, id TEXT NOT NULL, PRIMARY KEY(name, key, id)) WITHOUT ROWID;
${COMPACTED}`;

// Format 3: acknowledgement vectors in meta are stored as encoded version vectors (src/db/acks.ts).
// Nothing to convert: both forms are read, and each is rewritten in the new one when it next moves;
// the bump keeps an older BlazeDB from misreading them.
const NOTHING_TO_CONVERT = 'SELECT 1';

/** MIGRATIONS[v] takes a store of format v to v + 1 (run in one transaction with the version bump). */
const MIGRATIONS: Record<number, string> = { 1: COMPACTED, 2: NOTHING_TO_CONVERT };

// A record's op count, stored ops plus compacted ones, for the record (coll, rec) given as SQL expressions.
const opCountSql = (coll: string, rec: string) =>
  `((SELECT count(*) FROM blaze_ops WHERE coll = ${coll} AND rec = ${rec})
    + coalesce((SELECT n FROM blaze_compacted WHERE coll = ${coll} AND rec = ${rec}), 0))`;

/**
 * Checks, without writing anything, that `path` is absent or a BlazeDB store this code can
 * open. Throws NotABlazeStoreError or StoreVersionError otherwise.
 */
export function checkStoreFile(path: string): 'absent' | 'present' {
  if (!existsSync(path)) return 'absent';
  let header: Buffer;
  try {
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(100);
      header = buf.subarray(0, readSync(fd, buf, 0, 100, 0));
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw new NotABlazeStoreError(`cannot read ${path}: ${(err as Error).message}`);
  }
  // A zero-length file is what a crash during creation leaves: nothing to lose, create anew.
  if (header.length === 0) return 'absent';
  if (header.length < 100 || header.toString('latin1', 0, 16) !== SQLITE_MAGIC) {
    throw new NotABlazeStoreError(`${path} is not a BlazeDB store (not a SQLite database)`);
  }
  // SQLite header: user_version at offset 60, application_id at offset 68 (big-endian).
  const applicationId = header.readUInt32BE(68);
  if (applicationId !== APPLICATION_ID) {
    throw new NotABlazeStoreError(`${path} is a SQLite database but not a BlazeDB store (application_id ${applicationId})`);
  }
  const version = header.readUInt32BE(60);
  if (version > FORMAT_VERSION) throw new StoreVersionError(version, FORMAT_VERSION);
  return 'present';
}

function storedOp(r: Record<string, unknown>): StoredOp {
  return { node: r.node as string, seq: Number(r.seq), payload: r.payload as Uint8Array };
}

const VERSIONS_SQL = 'SELECT node, seq, ahead FROM blaze_versions';

function readVersions(stmt: StatementSync): Map<string, VersionRow> {
  const out = new Map<string, VersionRow>();
  for (const r of stmt.all()) {
    const ahead = r.ahead ? (r.ahead as string).split(',').map(Number) : [];
    out.set(r.node as string, { seq: Number(r.seq), ahead });
  }
  return out;
}

export class SqliteStorage implements Storage {
  readonly kind = 'sqlite';
  readonly #db: DatabaseSync;
  readonly #stmts = new Map<string, StatementSync>();
  #depth = 0;
  /** Inside a transaction: each collection's next record row number (see putRecord). */
  #nextN: Map<string, number> | undefined;
  #stopCheckpointer: (() => void) | undefined;
  #startCheckpointer: (() => void) | undefined;
  #dataVersion: number | undefined;
  readonly #path: string;
  readonly #snapshots = new Set<SqliteSnapshot>();

  constructor(init: SqliteStorageInit) {
    const state = checkStoreFile(init.path);
    this.#path = init.path;
    try {
      this.#db = new DatabaseSync(init.path);
      this.#db.exec('PRAGMA busy_timeout = 5000');
      this.#db.exec('PRAGMA cache_size = -65536');
      if (state === 'absent') {
        // Still in rollback-journal mode: the header (application_id, user_version) goes straight
        // into the main file, so the store is recognisable even if we are killed before the
        // first WAL checkpoint.
        this.#db.exec('BEGIN IMMEDIATE');
        this.#db.exec(SCHEMA);
        this.#db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
        this.#db.exec(`PRAGMA user_version = ${FORMAT_VERSION}`);
        this.#db.exec('COMMIT');
      }
      this.#db.exec('PRAGMA journal_mode = WAL');
      this.#db.exec(`PRAGMA synchronous = ${init.durability === 'power' ? 'FULL' : 'NORMAL'}`);
      if (state === 'present') this.#migrate();
      if (init.checkpointer) {
        this.#db.exec('PRAGMA wal_autocheckpoint = 0');
        // When the WAL starts over, cut the file back to 64 MiB instead of keeping its peak size.
        this.#db.exec('PRAGMA journal_size_limit = 67108864');
        // Started with the first write: a read-only open (a CLI query) does not pay for a thread.
        const start = init.checkpointer;
        const path = init.path;
        this.#startCheckpointer = () => {
          this.#startCheckpointer = undefined;
          this.#stopCheckpointer = start(path);
        };
      }
    } catch (err) {
      throw new StorageError(`cannot open ${init.path}: ${(err as Error).message}`);
    }
  }

  /**
   * Brings a store of an older format up to FORMAT_VERSION: every step and the version bump in one
   * transaction, then a checkpoint, so the header in the main file (what checkStoreFile and an
   * older BlazeDB read) says the new version at once rather than after the next checkpoint.
   */
  #migrate(): void {
    const userVersion = () => Number(this.#db.prepare('PRAGMA user_version').get()?.user_version);
    if (userVersion() >= FORMAT_VERSION) return;
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      // Read again under the write lock: another process may have migrated meanwhile.
      for (let v = userVersion(); v < FORMAT_VERSION; v++) {
        const step = MIGRATIONS[v];
        if (step === undefined) throw new StorageError(`no migration from store format version ${v}`);
        this.#db.exec(step);
      }
      this.#db.exec(`PRAGMA user_version = ${FORMAT_VERSION}`);
      this.#db.exec('COMMIT');
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    }
    // Best effort, like close(): if it cannot finish now, a later checkpoint carries the header.
    try {
      this.#db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    } catch {}
  }

  #stmt(sql: string): StatementSync {
    let stmt = this.#stmts.get(sql);
    if (!stmt) {
      stmt = this.#db.prepare(sql);
      this.#stmts.set(sql, stmt);
    }
    return stmt;
  }

  transaction<T>(fn: () => T): T {
    if (this.#depth > 0) return fn(); // nested: part of the outer transaction
    this.#startCheckpointer?.();
    this.#db.exec('BEGIN IMMEDIATE');
    this.#depth++;
    this.#nextN = new Map();
    try {
      const result = fn();
      this.#db.exec('COMMIT');
      return result;
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    } finally {
      this.#depth--;
      this.#nextN = undefined;
    }
  }

  changedElsewhere(): boolean {
    // data_version changes when another connection commits to the file.
    const version = Number(this.#stmt('PRAGMA data_version').get()?.data_version);
    const changed = this.#dataVersion !== undefined && version !== this.#dataVersion;
    this.#dataVersion = version;
    return changed;
  }

  getMeta(key: string): Uint8Array | undefined {
    const row = this.#stmt('SELECT value FROM blaze_meta WHERE key = ?').get(key);
    return row ? (row.value as Uint8Array) : undefined;
  }

  setMeta(key: string, value: Uint8Array): void {
    this.#stmt('INSERT OR REPLACE INTO blaze_meta(key, value) VALUES (?, ?)').run(key, value);
  }

  deleteMeta(key: string): void {
    this.#stmt('DELETE FROM blaze_meta WHERE key = ?').run(key);
  }

  *scanMeta(prefix: string): Iterable<[string, Uint8Array]> {
    // Keys sharing a prefix sort together (byte order), from the prefix itself on: a range scan
    // on the primary key that stops at the first key without it.
    for (const r of this.#stmt('SELECT key, value FROM blaze_meta WHERE key >= ? ORDER BY key').iterate(prefix)) {
      if (!(r.key as string).startsWith(prefix)) return;
      yield [r.key as string, r.value as Uint8Array];
    }
  }

  appendOp(row: OpRow): void {
    try {
      this.#stmt('INSERT INTO blaze_ops(node, seq, coll, rec, payload) VALUES (?, ?, ?, ?, ?)').run(
        row.node,
        row.seq,
        row.collection,
        row.record,
        row.payload,
      );
    } catch (err) {
      throw new StorageError(`cannot append op ${row.node}:${row.seq}: ${(err as Error).message}`);
    }
  }

  getOp(node: string, seq: number): Uint8Array | undefined {
    const row = this.#stmt('SELECT payload FROM blaze_ops WHERE node = ? AND seq = ?').get(node, seq);
    return row ? (row.payload as Uint8Array) : undefined;
  }

  opsAfter(node: string, afterSeq: number, limit: number): StoredOp[] {
    return this.#stmt('SELECT node, seq, payload FROM blaze_ops WHERE node = ? AND seq > ? ORDER BY seq LIMIT ?')
      .all(node, afterSeq, limit)
      .map(storedOp);
  }

  opsOfRecord(collection: string, record: string): StoredOp[] {
    return this.#stmt('SELECT node, seq, payload FROM blaze_ops WHERE coll = ? AND rec = ?').all(collection, record).map(storedOp);
  }

  *opsOfCollection(collection: string): Iterable<StoredOp> {
    for (const r of this.#stmt('SELECT node, seq, payload FROM blaze_ops WHERE coll = ?').iterate(collection)) yield storedOp(r);
  }

  opCount(): number {
    return Number(this.#stmt('SELECT count(*) AS n FROM blaze_ops').get()?.n ?? 0);
  }

  opCountOfRecord(collection: string, record: string): number {
    return Number(this.#stmt(`SELECT ${opCountSql('?1', '?2')} AS n`).get(collection, record)?.n ?? 0);
  }

  compactOps(node: string, throughSeq: number, limit: number): CompactedOp[] {
    if (limit <= 0) return []; // SQLite reads a negative LIMIT as none
    const max = Math.min(Math.floor(limit), Number.MAX_SAFE_INTEGER); // LIMIT takes an integer, not Infinity
    // Joins the caller's transaction; outside one it is its own, so ops never leave the log
    // without their counts moving to blaze_compacted.
    return this.transaction(() => {
      const out = this.#stmt('SELECT seq, coll, rec FROM blaze_ops WHERE node = ? AND seq <= ? ORDER BY seq LIMIT ?')
        .all(node, throughSeq, max)
        .map((r): CompactedOp => ({ seq: Number(r.seq), collection: r.coll as string, record: r.rec as string }));
      const last = out.at(-1);
      if (!last) return out;
      // The selected ops are exactly the node's ops up to the last one: one range delete on (node, seq).
      this.#stmt('DELETE FROM blaze_ops WHERE node = ? AND seq <= ?').run(node, last.seq);
      const removed = new Map<string, { collection: string; record: string; n: number }>();
      for (const op of out) {
        const key = `${op.collection}\0${op.record}`;
        const entry = removed.get(key) ?? { collection: op.collection, record: op.record, n: 0 };
        entry.n++;
        removed.set(key, entry);
      }
      const bump = this.#stmt(
        'INSERT INTO blaze_compacted(coll, rec, n) VALUES (?, ?, ?) ON CONFLICT(coll, rec) DO UPDATE SET n = n + excluded.n',
      );
      for (const { collection, record, n } of removed.values()) bump.run(collection, record, n);
      return out;
    });
  }

  removeOp(node: string, seq: number): CompactedOp | undefined {
    return this.transaction(() => {
      const r = this.#stmt('DELETE FROM blaze_ops WHERE node = ? AND seq = ? RETURNING coll, rec').get(node, seq);
      if (!r) return undefined;
      const at = { seq, collection: r.coll as string, record: r.rec as string };
      this.#stmt('INSERT INTO blaze_compacted(coll, rec, n) VALUES (?, ?, 1) ON CONFLICT(coll, rec) DO UPDATE SET n = n + 1').run(
        at.collection,
        at.record,
      );
      return at;
    });
  }

  *scanDocsWithOpCounts(collection: string): Iterable<[string, Uint8Array, number]> {
    const stmt = this.#stmt(
      `SELECT r.id, r.doc, ${opCountSql('r.coll', 'r.id')} AS n
       FROM blaze_records r WHERE r.coll = ? AND r.doc IS NOT NULL ORDER BY r.n`,
    );
    for (const r of stmt.iterate(collection)) yield [r.id as string, r.doc as Uint8Array, Number(r.n)];
  }

  getRecordAndOpCount(collection: string, id: string): { row: RecordRow | undefined; opCount: number } {
    const r = this.#stmt(
      `SELECT ${opCountSql('?1', '?2')} AS n, r.state AS state, r.doc AS doc, r.id AS id
       FROM (SELECT 1) LEFT JOIN blaze_records r ON r.coll = ?1 AND r.id = ?2`,
    ).get(collection, id);
    const row = r?.id != null ? { state: r.state as Uint8Array, doc: (r.doc as Uint8Array | null) ?? null } : undefined;
    return { row, opCount: Number(r?.n ?? 0) };
  }

  getRecord(collection: string, id: string): RecordRow | undefined {
    const row = this.#stmt('SELECT state, doc FROM blaze_records WHERE coll = ? AND id = ?').get(collection, id);
    return row ? { state: row.state as Uint8Array, doc: (row.doc as Uint8Array | null) ?? null } : undefined;
  }

  putRecord(collection: string, id: string, row: RecordRow): void {
    // Inside a transaction (which holds the write lock, so nobody else inserts) the next row
    // number of a collection is read once and counted on here: no max() lookup per insert.
    // An update of an existing row leaves its number alone and skips one: gaps are harmless.
    if (this.#nextN) {
      let n = this.#nextN.get(collection);
      if (n === undefined) {
        n = Number(this.#stmt('SELECT coalesce(max(n), 0) + 1 AS n FROM blaze_records WHERE coll = ?').get(collection)?.n ?? 1);
      }
      this.#nextN.set(collection, n + 1);
      this.#stmt(
        `INSERT INTO blaze_records(coll, n, id, state, doc) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(coll, id) DO UPDATE SET state = excluded.state, doc = excluded.doc`,
      ).run(collection, n, id, row.state, row.doc);
      return;
    }
    this.#stmt(
      `INSERT INTO blaze_records(coll, n, id, state, doc)
       VALUES (?, (SELECT coalesce(max(n), 0) + 1 FROM blaze_records WHERE coll = ?), ?, ?, ?)
       ON CONFLICT(coll, id) DO UPDATE SET state = excluded.state, doc = excluded.doc`,
    ).run(collection, collection, id, row.state, row.doc);
  }

  *scanDocs(collection: string): Iterable<[string, Uint8Array]> {
    const stmt = this.#stmt('SELECT id, doc FROM blaze_records WHERE coll = ? AND doc IS NOT NULL ORDER BY n');
    for (const r of stmt.iterate(collection)) yield [r.id as string, r.doc as Uint8Array];
  }

  countDocs(collection: string): number {
    return Number(this.#stmt('SELECT count(*) AS n FROM blaze_records WHERE coll = ? AND doc IS NOT NULL').get(collection)?.n ?? 0);
  }

  collections(): string[] {
    return this.#stmt('SELECT DISTINCT coll FROM blaze_records ORDER BY coll')
      .all()
      .map((r) => r.coll as string);
  }

  loadVersions(): Map<string, VersionRow> {
    return readVersions(this.#stmt(VERSIONS_SQL));
  }

  setVersion(node: string, row: VersionRow): void {
    const ahead = row.ahead.length > 0 ? row.ahead.join(',') : null;
    this.#stmt('INSERT OR REPLACE INTO blaze_versions(node, seq, ahead) VALUES (?, ?, ?)').run(node, row.seq, ahead);
  }

  addIndexEntry(index: string, key: Uint8Array, id: string): void {
    this.#stmt('INSERT OR IGNORE INTO blaze_index(name, key, id) VALUES (?, ?, ?)').run(index, key, id);
  }

  removeIndexEntry(index: string, key: Uint8Array, id: string): void {
    this.#stmt('DELETE FROM blaze_index WHERE name = ? AND key = ? AND id = ?').run(index, key, id);
  }

  *scanIndex(index: string, range: KeyRange): Iterable<string> {
    const where = ['name = ?'];
    const params: (string | Uint8Array)[] = [index];
    if (range.lower) {
      where.push(range.lowerInclusive === false ? 'key > ?' : 'key >= ?');
      params.push(range.lower);
    }
    if (range.upper) {
      where.push(range.upperInclusive === false ? 'key < ?' : 'key <= ?');
      params.push(range.upper);
    }
    const stmt = this.#stmt(`SELECT id FROM blaze_index WHERE ${where.join(' AND ')} ORDER BY key, id`);
    for (const r of stmt.iterate(...params)) yield r.id as string;
  }

  dropIndex(index: string): void {
    this.#stmt('DELETE FROM blaze_index WHERE name = ?').run(index);
  }

  snapshotReader(): StorageSnapshot {
    if (this.#db.isTransaction) throw new StorageError('snapshotReader inside a transaction: its writes are not committed yet');
    // A second connection in a read transaction: WAL keeps serving it the commit it started on
    // while this connection (or another process) writes on. A new connection sees every commit.
    const reader = new DatabaseSync(this.#path, { readOnly: true });
    try {
      reader.exec('PRAGMA busy_timeout = 5000');
      reader.exec('BEGIN');
      // A deferred transaction takes its snapshot at its first read: read now, not when iterated.
      const versions = readVersions(reader.prepare(VERSIONS_SQL));
      const snapshot = new SqliteSnapshot(reader, versions, () => this.#snapshots.delete(snapshot));
      this.#snapshots.add(snapshot);
      return snapshot;
    } catch (err) {
      reader.close();
      throw new StorageError(`cannot open a snapshot of ${this.#path}: ${(err as Error).message}`);
    }
  }

  close(): void {
    // An open read transaction would stall the closing checkpoint (it waits for readers).
    for (const snapshot of [...this.#snapshots]) snapshot.close();
    this.#stopCheckpointer?.();
    if (!this.#db.isOpen) return;
    // Leave no WAL behind (the checkpoint thread may not have caught up): reopening then has
    // nothing to replay. Best effort: a failure here loses nothing, the WAL stays valid.
    try {
      this.#db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    } catch {}
    this.#db.close();
  }
}

class SqliteSnapshot implements StorageSnapshot {
  readonly #db: DatabaseSync;
  readonly #versions: Map<string, VersionRow>;
  readonly #onClose: () => void;

  constructor(db: DatabaseSync, versions: Map<string, VersionRow>, onClose: () => void) {
    this.#db = db;
    this.#versions = versions;
    this.#onClose = onClose;
  }

  #check(): void {
    if (!this.#db.isOpen) throw new StorageError('snapshot is closed');
  }

  versions(): Map<string, VersionRow> {
    this.#check();
    return new Map(this.#versions);
  }

  *records(): Iterable<SnapshotRecord> {
    this.#check();
    // Its own statement per call, so two iterations do not reset each other; (coll, n) is the
    // primary key, so this walks the table in order without sorting or loading it.
    const stmt = this.#db.prepare(
      `SELECT r.coll, r.id, r.state, r.doc, ${opCountSql('r.coll', 'r.id')} AS n FROM blaze_records r ORDER BY r.coll, r.n`,
    );
    for (const r of stmt.iterate()) {
      const row = { state: r.state as Uint8Array, doc: (r.doc as Uint8Array | null) ?? null };
      yield { collection: r.coll as string, id: r.id as string, row, opCount: Number(r.n) };
    }
  }

  close(): void {
    if (!this.#db.isOpen) return;
    this.#onClose();
    this.#db.close(); // ends the read transaction
  }
}
