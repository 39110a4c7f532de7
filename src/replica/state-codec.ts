/**
 * BlazeBinary encoding of a record's merge state, as the store keeps it: the insert and delete
 * stamps and every field's CRDT sub-states with the stamps and dots merging needs. Node ids are
 * interned within one record. Layout in docs/blazebinary.md ("Record state").
 */
import type { Stamp } from '../clock/stamp.ts';
import { WALL_EPOCH_MS } from '../codec/constants.ts';
import { Decoder, readByte, readLength, readString, readVarInt, readVarUint } from '../codec/decoder.ts';
import { Encoder, writeByte, writeString, writeVarInt, writeVarUint } from '../codec/encoder.ts';
import { readNodeLiteral, writeNodeLiteral } from '../codec/intern.ts';
import { readName, writeName } from '../codec/name.ts';
import { readValue, writeValue } from '../codec/value-codec.ts';
import { valueKey } from '../codec/value-key.ts';
import { DecodeError } from '../errors.ts';
import type { NodeId } from '../identity/node-id.ts';
import type { Strategy } from '../ops/op.ts';
import { type CounterIncrement, FieldState, type SetElement, type StampedValue } from './field-state.ts';
import { RecordState } from './record-state.ts';

const STATE_VERSION = 0x14;
/** States stored before stamps could repeat (still read). */
const LEGACY_STATE_VERSION = 0x13;
const STRATEGY_CODES: Strategy[] = ['lww', 'mv', 'counter', 'set'];
const HAS_INSERT = 1;
const HAS_TOMBSTONE = 2;
/** Flags byte (the second): the state is also the record's base (RecordState.baseIsState). */
export const STATE_BASE_IS_STATE = 4;
const BASE_IS_STATE = STATE_BASE_IS_STATE;
const HAS_LWW = 1;
const HAS_MV = 2;
const HAS_COUNTER = 4;
const HAS_SET = 8;
const HAS_SUPPRESSED = 16;
const LWW_ABSENT = 32;
/** The field's latest op is its LWW write (the common case): its stamp is not repeated. */
const LATEST_IS_LWW = 64;

/**
 * Node ids interned within one record state, and the stamp written last. A state names a
 * handful of nodes, so writing searches a small array (cheaper than a Map per state).
 *
 * Version 0x14 (written now): a stamp starts with a varuint: 0 = a node literal follows, then
 * wall and counter; 1 = the same stamp as the one written just before (one op's insert stamp
 * repeats in every field it wrote: 1 byte instead of ~10); k >= 2 = the node at table index
 * k - 2, then wall and counter. Version 0x13 (older stores): 0 = literal, k >= 1 = index k - 1,
 * no repeats.
 */
class StampTable {
  readonly #nodes: NodeId[] = [];
  #last: Stamp | undefined;
  readonly #version: number;

  constructor(version = STATE_VERSION) {
    this.#version = version;
  }

  write(e: Encoder, s: Stamp): void {
    const last = this.#last;
    if (last && last.node === s.node && last.wall === s.wall && last.counter === s.counter) {
      writeVarUint(e, 1);
      return;
    }
    this.#last = s;
    const at = this.#nodes.indexOf(s.node);
    if (at >= 0) {
      writeVarUint(e, at + 2);
    } else {
      this.#nodes.push(s.node);
      writeVarUint(e, 0);
      writeNodeLiteral(e, s.node);
    }
    writeVarInt(e, s.wall - WALL_EPOCH_MS);
    writeVarUint(e, s.counter);
  }

  read(d: Decoder): Stamp {
    const ref = readVarUint(d);
    const old = this.#version === LEGACY_STATE_VERSION;
    if (!old && ref === 1) return this.#last ?? d.fail('a repeated stamp before any stamp');
    let node: NodeId;
    if (ref === 0) {
      node = readNodeLiteral(d);
      this.#nodes.push(node);
    } else {
      node = this.#nodes[ref - (old ? 1 : 2)] ?? d.fail(`node index ${ref} not yet defined`);
    }
    const wall = readVarInt(d) + WALL_EPOCH_MS;
    const stamp = { node, wall, counter: readVarUint(d) };
    this.#last = stamp;
    return stamp;
  }
}

function writeStamp(e: Encoder, stamps: StampTable, s: Stamp): void {
  stamps.write(e, s);
}

function readStamp(d: Decoder, stamps: StampTable): Stamp {
  return stamps.read(d);
}

function writeStamped(e: Encoder, nodes: StampTable, v: StampedValue): void {
  writeStamp(e, nodes, v);
  writeVarUint(e, v.seq);
  writeValue(e, v.value);
}

function readStamped(d: Decoder, nodes: StampTable): StampedValue {
  const stamp = readStamp(d, nodes);
  const seq = readVarUint(d);
  return { ...stamp, seq, value: readValue(d) };
}

export function encodeRecordState(record: RecordState, into?: Encoder): Uint8Array {
  const e = into ?? new Encoder(128);
  e.reset();
  const nodes = new StampTable();
  writeByte(e, STATE_VERSION);
  writeByte(e, (record.insert ? HAS_INSERT : 0) | (record.tombstone ? HAS_TOMBSTONE : 0) | (record.baseIsState ? BASE_IS_STATE : 0));
  if (record.insert) writeStamp(e, nodes, record.insert);
  if (record.tombstone) writeStamp(e, nodes, record.tombstone);
  writeVarUint(e, record.fields.size);
  for (const [name, field] of record.fields) {
    writeName(e, name);
    writeField(e, nodes, field);
  }
  return e.finish();
}

function writeField(e: Encoder, nodes: StampTable, f: FieldState): void {
  const latest = f.latest as Stamp;
  const latestIsLww =
    f.latestStrategy === 'lww' &&
    f.lww !== undefined &&
    f.lww.wall === latest.wall &&
    f.lww.counter === latest.counter &&
    f.lww.node === latest.node;
  const flags =
    (latestIsLww ? LATEST_IS_LWW : 0) |
    (f.lww ? HAS_LWW : 0) |
    (f.lww?.absent ? LWW_ABSENT : 0) |
    (f.mv ? HAS_MV : 0) |
    (f.counter ? HAS_COUNTER : 0) |
    (f.set ? HAS_SET : 0) |
    (f.suppressed?.size ? HAS_SUPPRESSED : 0);
  writeByte(e, flags);
  writeByte(e, STRATEGY_CODES.indexOf(f.latestStrategy));
  if (!latestIsLww) writeStamp(e, nodes, latest);
  if (f.lww?.absent) {
    writeStamp(e, nodes, f.lww);
    writeVarUint(e, f.lww.seq);
  } else if (f.lww) {
    writeStamped(e, nodes, f.lww);
  }
  if (f.mv) {
    writeVarUint(e, f.mv.length);
    for (const v of f.mv) writeStamped(e, nodes, v);
  }
  if (f.counter) {
    writeVarUint(e, f.counter.length);
    for (const inc of f.counter) {
      writeStamp(e, nodes, inc);
      writeVarInt(e, inc.delta);
    }
  }
  if (f.set) {
    writeVarUint(e, f.set.size);
    for (const element of f.set.values()) {
      writeValue(e, element.value);
      writeVarUint(e, element.tags.length);
      for (const tag of element.tags) {
        writeStamp(e, nodes, tag);
        writeVarUint(e, tag.seq);
      }
    }
  }
  if (f.suppressed?.size) {
    writeVarUint(e, f.suppressed.size);
    for (const key of f.suppressed) writeString(e, key);
  }
}

export function decodeRecordState(bytes: Uint8Array): RecordState {
  const d = new Decoder(bytes);
  try {
    const version = readByte(d);
    if (version !== STATE_VERSION && version !== LEGACY_STATE_VERSION) d.fail(`unknown record state version 0x${version.toString(16)}`);
    const nodes = new StampTable(version);
    const record = new RecordState();
    const flags = readByte(d);
    if (flags & HAS_INSERT) record.insert = readStamp(d, nodes);
    if (flags & HAS_TOMBSTONE) record.tombstone = readStamp(d, nodes);
    if (flags & BASE_IS_STATE) record.baseIsState = true;
    const n = readLength(d);
    for (let i = 0; i < n; i++) record.fields.set(readName(d), readField(d, nodes));
    if (d.pos !== d.end) d.fail('trailing bytes');
    return record;
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    throw new DecodeError(`internal decoder error: ${String(err)}`, d.pos);
  }
}

function readField(d: Decoder, nodes: StampTable): FieldState {
  const f = new FieldState();
  const flags = readByte(d);
  f.latestStrategy = STRATEGY_CODES[readByte(d)] ?? d.fail('unknown strategy code');
  if (!(flags & LATEST_IS_LWW)) f.latest = readStamp(d, nodes);
  if (flags & LWW_ABSENT) {
    const stamp = readStamp(d, nodes);
    f.lww = { ...stamp, seq: readVarUint(d), value: null, absent: true };
  } else if (flags & HAS_LWW) {
    f.lww = readStamped(d, nodes);
  }
  if (flags & LATEST_IS_LWW) {
    if (!f.lww) d.fail('latest stamp refers to a missing LWW write');
    f.latest = { wall: f.lww.wall, counter: f.lww.counter, node: f.lww.node };
  }
  if (flags & HAS_MV) {
    const n = readLength(d);
    f.mv = [];
    for (let i = 0; i < n; i++) f.mv.push(readStamped(d, nodes));
  }
  if (flags & HAS_COUNTER) {
    const n = readLength(d);
    const incs: CounterIncrement[] = [];
    for (let i = 0; i < n; i++) {
      const stamp = readStamp(d, nodes);
      incs.push({ ...stamp, delta: readVarInt(d) });
    }
    f.counter = incs;
  }
  if (flags & HAS_SET) {
    const n = readLength(d);
    const set = new Map<string, SetElement>();
    for (let i = 0; i < n; i++) {
      const value = readValue(d);
      const tagCount = readLength(d);
      const tags: StampedValue[] = [];
      for (let j = 0; j < tagCount; j++) {
        const stamp = readStamp(d, nodes);
        tags.push({ ...stamp, seq: readVarUint(d), value });
      }
      set.set(valueKey(value), { value, tags });
    }
    f.set = set;
  }
  if (flags & HAS_SUPPRESSED) {
    const n = readLength(d);
    f.suppressed = new Set();
    for (let i = 0; i < n; i++) f.suppressed.add(readString(d));
  }
  return f;
}
