/**
 * Snapshots: a node's whole state, as record merge states, at one version vector. A new device
 * (or one whose vector is below what its peer compacted away) starts from one, then takes the
 * ops after it. Produced from a consistent read view of the store (writes go on meanwhile) in
 * chunks of bounded size; the session LZ4-compresses and checksums each (messages.ts), and the
 * receiver applies the snapshot only once every chunk has arrived intact, in one transaction.
 *
 * Chunk body (BlazeBinary): varuint groups; per group: collection (string), varuint count,
 * then per record: id (a form byte and body, as in ops: a default id is 16 bytes), state
 * (bytes: the record-state codec of docs/blazebinary.md).
 */
import { Decoder, readByte, readBytes, readLength, readString } from '../codec/decoder.ts';
import { Encoder, writeByte, writeBytes, writeString, writeVarUint } from '../codec/encoder.ts';
import { readRecordIdBody, recordIdForm, writeRecordIdBody } from '../codec/record-id.ts';
import { hasStoredBase, loadBase, storeBase } from '../db/bases.ts';
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

/** Streams a store's records as chunk bodies, from one consistent view of it. */
export class SnapshotWriter {
  readonly version: Map<NodeId, number>;
  readonly #engine: Engine;
  readonly #view: StorageSnapshot;
  readonly #records: Iterator<{ collection: string; id: string; row: { state: Uint8Array }; opCount: number }>;
  #done = false;
  records = 0;

  constructor(engine: Engine) {
    this.#engine = engine;
    this.#view = engine.storage.snapshotReader();
    this.version = new Map([...this.#view.versions()].map(([node, row]) => [node as NodeId, row.seq]));
    this.#records = this.#view.records()[Symbol.iterator]();
  }

  /** The next chunk body, or undefined when every record went. */
  next(maxBytes = SNAPSHOT_CHUNK_BYTES): Uint8Array | undefined {
    if (this.#done) return undefined;
    const e = new Encoder(maxBytes + 1024);
    const groups: { collection: string; items: [string, Uint8Array][] }[] = [];
    let bytes = 0;
    while (bytes < maxBytes) {
      const next = this.#records.next();
      if (next.done) {
        this.#done = true;
        this.close();
        break;
      }
      const { collection, id, row, opCount } = next.value;
      const state = this.#engine.cipher.open(recordAad('state', collection, id, this.#engine.cipher.encrypted ? opCount : 0), row.state);
      let group = groups.at(-1);
      if (group?.collection !== collection) {
        group = { collection, items: [] };
        groups.push(group);
      }
      group.items.push([id, state]);
      bytes += id.length + state.length + 4;
      this.records++;
    }
    if (groups.length === 0) return undefined;
    writeVarUint(e, groups.length);
    for (const { collection, items } of groups) {
      writeString(e, collection);
      writeVarUint(e, items.length);
      for (const [id, state] of items) {
        const form = recordIdForm(id);
        writeByte(e, form);
        writeRecordIdBody(e, id, form);
        writeBytes(e, state);
      }
    }
    return e.finish();
  }

  close(): void {
    this.#view.close();
  }
}

/** Decodes a chunk body; throws DecodeError on anything malformed. */
export function decodeSnapshotChunk(body: Uint8Array): SnapshotRecord[] {
  const d = new Decoder(body);
  const out: SnapshotRecord[] = [];
  try {
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
        if (hasStoredBase(engine, collection, id)) {
          const base = loadBase(engine, collection, id) as RecordState;
          storeBase(engine, collection, id, joinRecordState(base, baseSeen, theirs, theirsSeen));
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
    for (const [node, seq] of version) engine.storage.compactOps(node, seq, Number.MAX_SAFE_INTEGER);
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
