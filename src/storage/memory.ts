/**
 * In-memory storage: for tests and the simulator. Transactions are real: writes go to a
 * journal of undo actions, replayed backwards if the transaction throws.
 */
import { lowerBound } from '../util/search.ts';
import { StorageError } from './errors.ts';
import {
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

interface IndexEntry {
  key: Uint8Array;
  id: string;
}

const opKey = (node: string, seq: number) => `${node}:${seq}`;

export class MemoryStorage implements Storage {
  readonly kind = 'memory';
  readonly #meta = new Map<string, Uint8Array>();
  readonly #ops = new Map<string, OpRow>();
  readonly #opsByNode = new Map<string, number[]>();
  /** Op keys of each record: opsOfRecord without scanning every op. */
  readonly #opKeysByRecord = new Map<string, Set<string>>();
  /** Ops appended per record, compacted ones included (compaction leaves it alone). */
  readonly #opsPerRecord = new Map<string, number>();
  readonly #records = new Map<string, Map<string, RecordRow>>();
  readonly #versions = new Map<string, VersionRow>();
  readonly #indexes = new Map<string, IndexEntry[]>();
  #undo: (() => void)[] | undefined;
  #closed = false;

  /**
   * A copy of everything committed (the simulator's backups and cloned devices). Rows are never
   * mutated in place, so they are shared.
   */
  snapshot(): MemoryStorage {
    if (this.#undo) throw new StorageError('snapshot inside a transaction');
    const copy = new MemoryStorage();
    for (const [k, v] of this.#meta) copy.#meta.set(k, v);
    for (const [k, v] of this.#ops) copy.#ops.set(k, v);
    for (const [k, v] of this.#opsByNode) copy.#opsByNode.set(k, [...v]);
    for (const [k, v] of this.#opKeysByRecord) copy.#opKeysByRecord.set(k, new Set(v));
    for (const [k, v] of this.#opsPerRecord) copy.#opsPerRecord.set(k, v);
    for (const [k, v] of this.#records) copy.#records.set(k, new Map(v));
    for (const [k, v] of this.#versions) copy.#versions.set(k, v);
    for (const [k, v] of this.#indexes) copy.#indexes.set(k, [...v]);
    return copy;
  }

  transaction<T>(fn: () => T): T {
    this.#open();
    if (this.#undo) return fn(); // nested: part of the outer transaction
    this.#undo = [];
    try {
      const result = fn();
      this.#undo = undefined;
      return result;
    } catch (err) {
      const undo = this.#undo ?? [];
      this.#undo = undefined;
      for (let i = undo.length - 1; i >= 0; i--) undo[i]?.();
      throw err;
    }
  }

  #onUndo(action: () => void): void {
    this.#undo?.push(action);
  }

  #open(): void {
    if (this.#closed) throw new StorageError('storage is closed');
  }

  changedElsewhere(): boolean {
    return false; // a memory store has one owner
  }

  getMeta(key: string): Uint8Array | undefined {
    this.#open();
    return this.#meta.get(key);
  }

  setMeta(key: string, value: Uint8Array): void {
    this.#open();
    const old = this.#meta.get(key);
    this.#meta.set(key, value);
    this.#onUndo(() => (old === undefined ? this.#meta.delete(key) : this.#meta.set(key, old)));
  }

  *scanMeta(prefix: string): Iterable<[string, Uint8Array]> {
    this.#open();
    const keys = [...this.#meta.keys()].filter((k) => k.startsWith(prefix)).sort();
    for (const key of keys) {
      const value = this.#meta.get(key);
      if (value !== undefined) yield [key, value];
    }
  }

  deleteMeta(key: string): void {
    this.#open();
    const old = this.#meta.get(key);
    if (old === undefined) return;
    this.#meta.delete(key);
    this.#onUndo(() => this.#meta.set(key, old));
  }

  appendOp(row: OpRow): void {
    this.#open();
    const key = opKey(row.node, row.seq);
    if (this.#ops.has(key)) throw new StorageError(`op ${key} is already stored`);
    this.#ops.set(key, row);
    let seqs = this.#opsByNode.get(row.node);
    if (!seqs) {
      seqs = [];
      this.#opsByNode.set(row.node, seqs);
    }
    const list = seqs;
    // A node's ops mostly arrive in order: append; a gap filled later goes in its place.
    if (list.length === 0 || (list[list.length - 1] as number) < row.seq) list.push(row.seq);
    else list.splice(upperBound(list, row.seq), 0, row.seq);
    const recordKey = `${row.collection}\0${row.record}`;
    this.#opsPerRecord.set(recordKey, (this.#opsPerRecord.get(recordKey) ?? 0) + 1);
    this.#indexOp(recordKey, key, true);
    this.#onUndo(() => {
      this.#ops.delete(key);
      this.#indexOp(recordKey, key, false);
      list.splice(list.indexOf(row.seq), 1);
      this.#opsPerRecord.set(recordKey, (this.#opsPerRecord.get(recordKey) ?? 1) - 1);
    });
  }

  getOp(node: string, seq: number): Uint8Array | undefined {
    this.#open();
    return this.#ops.get(opKey(node, seq))?.payload;
  }

  opsAfter(node: string, afterSeq: number, limit: number): StoredOp[] {
    this.#open();
    const seqs = this.#opsByNode.get(node) ?? [];
    const out: StoredOp[] = [];
    for (let i = upperBound(seqs, afterSeq); i < seqs.length && out.length < limit; i++) {
      out.push(stored(this.#ops.get(opKey(node, seqs[i] as number)) as OpRow));
    }
    return out;
  }

  opsOfRecord(collection: string, record: string): StoredOp[] {
    this.#open();
    const keys = this.#opKeysByRecord.get(`${collection}\0${record}`) ?? [];
    return [...keys].map((k) => stored(this.#ops.get(k) as OpRow));
  }

  #indexOp(recordKey: string, key: string, add: boolean): void {
    let keys = this.#opKeysByRecord.get(recordKey);
    if (add) {
      if (!keys) {
        keys = new Set();
        this.#opKeysByRecord.set(recordKey, keys);
      }
      keys.add(key);
    } else if (keys) {
      keys.delete(key);
      if (keys.size === 0) this.#opKeysByRecord.delete(recordKey);
    }
  }

  *opsOfCollection(collection: string): Iterable<StoredOp> {
    this.#open();
    for (const r of this.#ops.values()) if (r.collection === collection) yield stored(r);
  }

  opCount(): number {
    this.#open();
    return this.#ops.size;
  }

  opCountOfRecord(collection: string, record: string): number {
    this.#open();
    return this.#opsPerRecord.get(`${collection}\0${record}`) ?? 0;
  }

  compactOps(node: string, throughSeq: number, limit: number): CompactedOp[] {
    this.#open();
    const seqs = this.#opsByNode.get(node);
    if (!seqs) return [];
    // A node's seqs are sorted: the ops to remove are a prefix.
    const n = Math.max(0, Math.min(limit, upperBound(seqs, throughSeq)));
    const removed = seqs.splice(0, n).map((seq) => this.#ops.get(opKey(node, seq)) as OpRow);
    for (const r of removed) {
      this.#ops.delete(opKey(node, r.seq));
      this.#indexOp(`${r.collection}\0${r.record}`, opKey(node, r.seq), false);
    }
    this.#onUndo(() => {
      seqs.splice(0, 0, ...removed.map((r) => r.seq));
      for (const r of removed) {
        this.#ops.set(opKey(node, r.seq), r);
        this.#indexOp(`${r.collection}\0${r.record}`, opKey(node, r.seq), true);
      }
    });
    return removed.map((r) => ({ seq: r.seq, collection: r.collection, record: r.record }));
  }

  removeOp(node: string, seq: number): CompactedOp | undefined {
    this.#open();
    const key = opKey(node, seq);
    const row = this.#ops.get(key);
    if (!row) return undefined;
    const seqs = this.#opsByNode.get(node) as number[];
    const at = seqs.indexOf(seq);
    seqs.splice(at, 1);
    this.#ops.delete(key);
    this.#indexOp(`${row.collection}\0${row.record}`, key, false);
    this.#onUndo(() => {
      seqs.splice(upperBound(seqs, seq), 0, seq);
      this.#ops.set(key, row);
      this.#indexOp(`${row.collection}\0${row.record}`, key, true);
    });
    return { seq, collection: row.collection, record: row.record };
  }

  *scanDocsWithOpCounts(collection: string): Iterable<[string, Uint8Array, number]> {
    for (const [id, doc] of this.scanDocs(collection)) yield [id, doc, this.opCountOfRecord(collection, id)];
  }

  getRecordAndOpCount(collection: string, id: string): { row: RecordRow | undefined; opCount: number } {
    return { row: this.getRecord(collection, id), opCount: this.opCountOfRecord(collection, id) };
  }

  getRecord(collection: string, id: string): RecordRow | undefined {
    this.#open();
    return this.#records.get(collection)?.get(id);
  }

  putRecord(collection: string, id: string, row: RecordRow): void {
    this.#open();
    let records = this.#records.get(collection);
    if (!records) {
      records = new Map();
      this.#records.set(collection, records);
    }
    const table = records;
    const old = table.get(id);
    table.set(id, row);
    this.#onUndo(() => (old === undefined ? table.delete(id) : table.set(id, old)));
  }

  *scanDocs(collection: string): Iterable<[string, Uint8Array]> {
    this.#open();
    const records = this.#records.get(collection);
    if (!records) return;
    for (const [id, row] of [...records]) if (row.doc) yield [id, row.doc];
  }

  countDocs(collection: string): number {
    this.#open();
    let n = 0;
    for (const row of this.#records.get(collection)?.values() ?? []) if (row.doc) n++;
    return n;
  }

  collections(): string[] {
    this.#open();
    return [...this.#records.keys()].sort();
  }

  loadVersions(): Map<string, VersionRow> {
    this.#open();
    return new Map(this.#versions);
  }

  setVersion(node: string, row: VersionRow): void {
    this.#open();
    const old = this.#versions.get(node);
    this.#versions.set(node, { seq: row.seq, ahead: [...row.ahead] });
    this.#onUndo(() => (old === undefined ? this.#versions.delete(node) : this.#versions.set(node, old)));
  }

  addIndexEntry(index: string, key: Uint8Array, id: string): void {
    this.#open();
    let entries = this.#indexes.get(index);
    if (!entries) {
      entries = [];
      this.#indexes.set(index, entries);
    }
    const list = entries;
    const entry = { key, id };
    const at = lowerBoundEntry(list, entry);
    const existing = list[at];
    if (existing && compareEntries(existing, entry) === 0) return;
    list.splice(at, 0, entry);
    this.#onUndo(() => list.splice(lowerBoundEntry(list, entry), 1));
  }

  removeIndexEntry(index: string, key: Uint8Array, id: string): void {
    this.#open();
    const list = this.#indexes.get(index);
    if (!list) return;
    const entry = { key, id };
    const at = lowerBoundEntry(list, entry);
    const existing = list[at];
    if (!existing || compareEntries(existing, entry) !== 0) return;
    list.splice(at, 1);
    this.#onUndo(() => list.splice(lowerBoundEntry(list, existing), 0, existing));
  }

  *scanIndex(index: string, range: KeyRange): Iterable<string> {
    this.#open();
    for (const { key, id } of [...(this.#indexes.get(index) ?? [])]) {
      if (range.lower) {
        const c = compareBytes(key, range.lower);
        if (c < 0 || (c === 0 && range.lowerInclusive === false)) continue;
      }
      if (range.upper) {
        const c = compareBytes(key, range.upper);
        if (c > 0 || (c === 0 && range.upperInclusive === false)) break;
      }
      yield id;
    }
  }

  dropIndex(index: string): void {
    this.#open();
    const old = this.#indexes.get(index);
    this.#indexes.delete(index);
    this.#onUndo(() => old && this.#indexes.set(index, old));
  }

  snapshotReader(): StorageSnapshot {
    this.#open();
    if (this.#undo) throw new StorageError('snapshotReader inside a transaction: its writes are not committed yet');
    // Rows are replaced, never mutated (putRecord, setVersion), so copying references is enough.
    const records: SnapshotRecord[] = [];
    for (const collection of this.collections()) {
      for (const [id, row] of this.#records.get(collection) ?? []) {
        records.push({ collection, id, row, opCount: this.opCountOfRecord(collection, id) });
      }
    }
    const versions = this.loadVersions();
    let closed = false;
    const check = () => {
      if (closed || this.#closed) throw new StorageError('snapshot is closed');
    };
    return {
      versions: () => {
        check();
        return new Map(versions);
      },
      *records() {
        check();
        yield* records;
      },
      close: () => {
        closed = true;
      },
    };
  }

  close(): void {
    this.#closed = true;
  }
}

const stored = (r: OpRow): StoredOp => ({ node: r.node, seq: r.seq, payload: r.payload });

/** The first position after every element <= value. */
function upperBound(sorted: number[], value: number): number {
  return lowerBound(sorted, value, (element, v) => (element <= v ? -1 : 1));
}

function compareEntries(a: IndexEntry, b: IndexEntry): number {
  return compareBytes(a.key, b.key) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function lowerBoundEntry(sorted: IndexEntry[], entry: IndexEntry): number {
  return lowerBound(sorted, entry, compareEntries);
}
