/**
 * Snapshots: a node's whole state, as record merge states, at one version vector. A new device
 * (or one whose vector is below what its peer compacted away) starts from one, then takes the
 * ops after it. Produced from a consistent read view of the store (writes go on meanwhile) in
 * chunks of bounded size; the session LZ4-compresses and checksums each (messages.ts), and the
 * receiver applies the snapshot only once every chunk has arrived intact, in one transaction.
 *
 * Chunk body (BlazeBinary): a kind byte. 0 (records): varuint groups; per group: collection
 * (string), varuint count, then per record: id (a form byte and body, as in ops: a default id
 * is 16 bytes), state (bytes: the record-state codec of docs/blazebinary.md). 1 (a piece of a
 * record whose state is bigger than a chunk, in chunks of its own, in order): collection, id,
 * varuint total state length, varuint offset, bytes piece.
 */
import { Decoder, readByte, readBytes, readLength, readString, readVarUint } from '../codec/decoder.ts';
import { Encoder, writeByte, writeBytes, writeString, writeVarUint } from '../codec/encoder.ts';
import { readRecordIdBody, recordIdForm, writeRecordIdBody } from '../codec/record-id.ts';
import { loadStoredBase, storeBase } from '../db/bases.ts';
import { type Engine, recordAad } from '../db/engine.ts';
import { DecodeError } from '../errors.ts';
import type { NodeId } from '../identity/node-id.ts';
import type { SeenDot } from '../replica/field-state.ts';
import { decodeRecordState, joinRecordState, type RecordState, STATE_BASE_IS_STATE } from '../replica/index.ts';
import type { StorageSnapshot } from '../storage/index.ts';
import type { Horizon } from './horizon.ts';
import { pointwiseMax, type Vector } from './vectors.ts';

/** Uncompressed bytes per chunk: big enough to compress well, far below the frame limit. */
export const SNAPSHOT_CHUNK_BYTES = 256 * 1024;
/** Records merged between flushes while applying (bounds the memory of a large snapshot). */
const FLUSH_EVERY = 2000;

export interface SnapshotRecord {
  readonly collection: string;
  readonly id: string;
  /** The record-state codec's bytes, unencrypted. */
  readonly state: Uint8Array;
}

/** A record whose state is bigger than a chunk travels in pieces, each in a chunk of its own. */
const CHUNK_RECORDS = 0;
const CHUNK_PIECE = 1;
/** Largest record state a piece may announce (a frame holds 4 MiB; a state may pass that). */
const MAX_PIECED_STATE_BYTES = 256 * 1024 * 1024;

interface OpenRecord {
  readonly collection: string;
  readonly id: string;
  readonly state: Uint8Array;
}

/** Streams a store's records as chunk bodies, from one consistent view of it. */
export class SnapshotWriter {
  readonly version: Map<NodeId, number>;
  readonly #engine: Engine;
  readonly #view: StorageSnapshot;
  readonly #records: Iterator<{ collection: string; id: string; row: { state: Uint8Array }; opCount: number }>;
  /** A record read but not sent yet (it did not fit the last chunk), and how much of it went. */
  #pending: { record: OpenRecord; sent: number } | undefined;
  #done = false;
  records = 0;

  constructor(engine: Engine) {
    this.#engine = engine;
    this.#view = engine.storage.snapshotReader();
    this.version = new Map([...this.#view.versions()].map(([node, row]) => [node as NodeId, row.seq]));
    this.#records = this.#view.records()[Symbol.iterator]();
  }

  #read(): OpenRecord | undefined {
    const next = this.#records.next();
    if (next.done) {
      this.#done = true;
      this.close();
      return undefined;
    }
    const { collection, id, row, opCount } = next.value;
    const version = this.#engine.cipher.encrypted ? opCount : 0;
    this.records++;
    return { collection, id, state: this.#engine.cipher.open(recordAad('state', collection, id, version), row.state) };
  }

  /** The next chunk body, or undefined when every record went. */
  next(maxBytes = SNAPSHOT_CHUNK_BYTES): Uint8Array | undefined {
    const pending = this.#pending;
    if (pending && (pending.sent > 0 || pending.record.state.length > maxBytes)) return this.#piece(pending, maxBytes);
    const groups: { collection: string; items: OpenRecord[] }[] = [];
    let bytes = 0;
    while (bytes < maxBytes) {
      const record = this.#pending?.record ?? (this.#done ? undefined : this.#read());
      this.#pending = undefined;
      if (!record) break;
      if (record.state.length > maxBytes) {
        // Too big for a chunk: it goes in pieces, after what this chunk holds.
        this.#pending = { record, sent: 0 };
        if (groups.length === 0) return this.#piece(this.#pending, maxBytes);
        break;
      }
      let group = groups.at(-1);
      if (group?.collection !== record.collection) {
        group = { collection: record.collection, items: [] };
        groups.push(group);
      }
      group.items.push(record);
      bytes += record.id.length + record.state.length + 4;
    }
    if (groups.length === 0) return undefined;
    const e = new Encoder(bytes + 1024);
    writeByte(e, CHUNK_RECORDS);
    writeVarUint(e, groups.length);
    for (const { collection, items } of groups) {
      writeString(e, collection);
      writeVarUint(e, items.length);
      for (const { id, state } of items) {
        writeId(e, id);
        writeBytes(e, state);
      }
    }
    return e.finish();
  }

  /** The next piece of a record too big for one chunk. */
  #piece(pending: { record: OpenRecord; sent: number }, maxBytes: number): Uint8Array {
    const { collection, id, state } = pending.record;
    const piece = state.subarray(pending.sent, pending.sent + maxBytes);
    const e = new Encoder(piece.length + 1024);
    writeByte(e, CHUNK_PIECE);
    writeString(e, collection);
    writeId(e, id);
    writeVarUint(e, state.length);
    writeVarUint(e, pending.sent);
    writeBytes(e, piece);
    pending.sent += piece.length;
    if (pending.sent >= state.length) this.#pending = undefined;
    return e.finish();
  }

  close(): void {
    this.#view.close();
  }
}

function writeId(e: Encoder, id: string): void {
  const form = recordIdForm(id);
  writeByte(e, form);
  writeRecordIdBody(e, id, form);
}

/** A piece of a record state too big for one chunk. */
export interface SnapshotPiece extends SnapshotRecord {
  readonly total: number;
  readonly offset: number;
}

/** Decodes a chunk body: whole records, or one piece of a big one. Throws DecodeError on anything malformed. */
export function decodeSnapshotChunk(body: Uint8Array): SnapshotRecord[] | SnapshotPiece {
  const d = new Decoder(body);
  try {
    const kind = readByte(d);
    if (kind === CHUNK_PIECE) {
      const collection = readString(d);
      const id = readRecordIdBody(d, readByte(d));
      const total = readVarUint(d);
      const offset = readVarUint(d);
      const state = readBytes(d);
      if (total > MAX_PIECED_STATE_BYTES || offset + state.length > total || state.length === 0) d.fail('bad snapshot piece');
      if (d.pos !== d.end) d.fail('trailing bytes in a snapshot chunk');
      return { collection, id, total, offset, state };
    }
    if (kind !== CHUNK_RECORDS) d.fail(`unknown snapshot chunk kind ${kind}`);
    const out: SnapshotRecord[] = [];
    const groups = readLength(d, 2);
    for (let g = 0; g < groups; g++) {
      const collection = readString(d);
      const n = readLength(d, 2);
      for (let i = 0; i < n; i++) out.push({ collection, id: readRecordIdBody(d, readByte(d)), state: readBytes(d) });
    }
    if (d.pos !== d.end) d.fail('trailing bytes in a snapshot chunk');
    return out;
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    throw new DecodeError(`internal decoder error: ${String(err)}`, d.pos);
  }
}

/** Decodes chunk bodies into records, joining the pieces of big ones (in order, or DecodeError). */
export function* snapshotRecords(chunks: Iterable<Uint8Array>): Iterable<readonly SnapshotRecord[]> {
  let open: { piece: SnapshotPiece; bytes: Uint8Array; filled: number } | undefined;
  for (const chunk of chunks) {
    const decoded = decodeSnapshotChunk(chunk);
    if (Array.isArray(decoded)) {
      if (open) throw new DecodeError('a snapshot record ended before its last piece');
      yield decoded;
      continue;
    }
    if (!open) {
      if (decoded.offset !== 0) throw new DecodeError('a snapshot piece before the first of its record');
      open = { piece: decoded, bytes: new Uint8Array(decoded.total), filled: 0 };
    } else if (decoded.id !== open.piece.id || decoded.collection !== open.piece.collection || decoded.offset !== open.filled) {
      throw new DecodeError('snapshot pieces out of order');
    }
    open.bytes.set(decoded.state, open.filled);
    open.filled += decoded.state.length;
    if (open.filled === open.piece.total) {
      yield [{ collection: open.piece.collection, id: open.piece.id, state: open.bytes }];
      open = undefined;
    }
  }
  if (open) throw new DecodeError('a snapshot ended inside a record');
}

/**
 * Merges a snapshot taken at `version` into this store, in one transaction: every record's
 * state joins the local one (local writes the snapshot lacks survive), the base states take
 * the snapshot's too, the version vector covers `version`, and the log drops its ops at or
 * below it (the snapshot's states hold them). Records whose state fails to decode abort it all.
 */
export function applySnapshot(engine: Engine, horizon: Horizon, version: Vector, chunks: Iterable<readonly SnapshotRecord[]>): number {
  const theirsSeen: SeenDot = (node, seq) => seq <= (version.get(node) ?? 0);
  const before = horizon.vector;
  const baseSeen: SeenDot = (node, seq) => seq <= (before.get(node) ?? 0);
  const next = pointwiseMax(before, version);
  let wall = horizon.wall;
  let applied = 0;
  const mineSeen: SeenDot = (node, seq) => engine.replica.version.has(node, seq);
  engine.write(() => {
    for (const records of chunks) {
      for (const { collection, id, state } of records) {
        const theirs = decodeRecordState(state);
        if (!theirs.held) continue;
        const mine = engine.replica.recordState(collection, id);
        const merged = mine?.held ? joinRecordState(mine, mineSeen, theirs, theirsSeen) : theirs;
        const storedBase = loadStoredBase(engine, collection, id);
        if (storedBase) {
          storeBase(engine, collection, id, joinRecordState(storedBase, baseSeen, theirs, theirsSeen));
        } else if (!mine?.held || mine.baseIsState) {
          // Nothing of it in the log: the merged state is its own base (no copy stored). This
          // is every record of a new device's initial sync.
          merged.baseIsState = true;
        } else {
          // Its ops so far are all in the log, and the ones at or below the snapshot go now:
          // the snapshot's state is what they leave behind.
          storeBase(engine, collection, id, theirs);
        }
        // A record new here is stored as the bytes it came in, flagged as its own base.
        engine.putMergedState(collection, id, merged, merged === theirs ? markedAsBase(state) : undefined);
        wall = Math.max(wall, newestWall(theirs));
        if (++applied % FLUSH_EVERY === 0) engine.flushWithinWrite();
      }
    }
    engine.accountVersion(version);
    for (const [node, seq] of version) engine.compactOps(node, seq, Number.MAX_SAFE_INTEGER);
    horizon.store(next, wall);
  });
  horizon.adopt(next, wall);
  return applied;
}

/** Record-state bytes with the flag saying the state is its own base (docs/blazebinary.md). */
function markedAsBase(state: Uint8Array): Uint8Array {
  const copy = state.slice();
  copy[1] = (copy[1] as number) | STATE_BASE_IS_STATE;
  return copy;
}

function newestWall(state: RecordState): number {
  let wall = Math.max(state.insert?.wall ?? 0, state.tombstone?.wall ?? 0);
  for (const field of state.fields.values()) wall = Math.max(wall, field.latest?.wall ?? 0);
  return wall;
}
