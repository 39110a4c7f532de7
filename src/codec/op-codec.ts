/**
 * BlazeBinary encoding of ops. One op layout serves both a standalone op and the ops of a
 * batch; what differs is how node ids, names, record ids, sequence numbers and wall times are
 * written, which an op context decides: literally (standalone) or interned and
 * delta-encoded against the previous op (batch). See docs/blazebinary.md.
 */
import type { NodeId } from '../identity/node-id.ts';
import type { Dot, FieldOp, Op, OpKind } from '../ops/op.ts';
import { MAX_DATE_MS, TAG_OP_ADD, TAG_OP_INC, TAG_OP_MVSET, TAG_OP_REMOVE, TAG_OP_UNSET } from './constants.ts';
import { type Decoder, readByte, readLength, readVarInt, readVarUint } from './decoder.ts';
import { type Encoder, writeByte, writeVarInt, writeVarUint } from './encoder.ts';
import { recordIdForm } from './record-id.ts';
import { readValue, readValueWithTag, writeValue } from './value-codec.ts';

/** How the parts of an op that repeat across ops are written. */
export interface OpWriteContext {
  writeNode(e: Encoder, node: NodeId): void;
  writeName(e: Encoder, name: string): void;
  /** `form` is the record id form the op header announces for a literal id. */
  writeRecord(e: Encoder, id: string, form: number): void;
  writeSeq(e: Encoder, node: NodeId, seq: number): void;
  writeWall(e: Encoder, wall: number): void;
}

/** How the parts of an op that repeat across ops are read: the mirror of `OpWriteContext`. */
export interface OpReadContext {
  readNode(d: Decoder): NodeId;
  readName(d: Decoder): string;
  readRecord(d: Decoder, form: number): string;
  readSeq(d: Decoder, node: NodeId): number;
  readWall(d: Decoder): number;
}

const KINDS: readonly OpKind[] = ['insert', 'update', 'delete'];
const KIND_CODE: Record<OpKind, number> = { insert: 0, update: 1, delete: 2 };
const HAS_COUNTER = 0x10;
const INLINE_FIELDS_MAX = 6;
const FIELDS_ESCAPE = 7;

// Header byte: bits 0-1 kind, 2-3 record id form, 4 has-counter, 5-7 field count (7 = varint follows).
export function writeOp(e: Encoder, op: Op, ctx: OpWriteContext): void {
  const form = recordIdForm(op.record);
  const nFields = op.fields.length;
  const countBits = nFields <= INLINE_FIELDS_MAX ? nFields : FIELDS_ESCAPE;
  writeByte(e, KIND_CODE[op.kind] | (form << 2) | (op.counter > 0 ? HAS_COUNTER : 0) | (countBits << 5));
  if (countBits === FIELDS_ESCAPE) writeVarUint(e, nFields);
  ctx.writeNode(e, op.node);
  ctx.writeSeq(e, op.node, op.seq);
  ctx.writeWall(e, op.wall);
  if (op.counter > 0) writeVarUint(e, op.counter);
  ctx.writeName(e, op.collection);
  ctx.writeRecord(e, op.record, form);
  for (let i = 0; i < nFields; i++) writeFieldOp(e, op.fields[i] as FieldOp, ctx);
}

function writeFieldOp(e: Encoder, f: FieldOp, ctx: OpWriteContext): void {
  ctx.writeName(e, f.field);
  switch (f.type) {
    case 'set':
      writeValue(e, f.value);
      return;
    case 'unset':
      writeByte(e, TAG_OP_UNSET);
      return;
    case 'mvset':
      writeByte(e, TAG_OP_MVSET);
      writeDots(e, f.observed, ctx);
      writeValue(e, f.value);
      return;
    case 'inc':
      writeByte(e, TAG_OP_INC);
      writeVarInt(e, f.delta);
      return;
    case 'add':
      writeByte(e, TAG_OP_ADD);
      writeValue(e, f.value);
      return;
    case 'remove':
      writeByte(e, TAG_OP_REMOVE);
      writeDots(e, f.observed, ctx);
      writeValue(e, f.value);
      return;
  }
}

function writeDots(e: Encoder, dots: readonly Dot[], ctx: OpWriteContext): void {
  writeVarUint(e, dots.length);
  for (const dot of dots) {
    ctx.writeNode(e, dot.node);
    writeVarUint(e, dot.seq);
  }
}

export function readOp(d: Decoder, ctx: OpReadContext): Op {
  const header = readByte(d);
  const kindCode = header & 0x03;
  if (kindCode === 3) d.fail('unknown op kind 3');
  const kind = KINDS[kindCode] as OpKind;
  const form = (header >> 2) & 0x03;
  if (form === 3) d.fail('unknown record id form 3');
  let nFields = header >> 5;
  if (nFields === FIELDS_ESCAPE) {
    nFields = readLength(d, 2);
    if (nFields <= INLINE_FIELDS_MAX) d.fail('non-canonical field count');
  }
  if (kind === 'delete' && nFields > 0) d.fail('a delete op carries no fields');
  const node = ctx.readNode(d);
  const seq = ctx.readSeq(d, node);
  if (seq < 1) d.fail(`sequence number ${seq} < 1`);
  const wall = ctx.readWall(d);
  if (wall < 0 || wall > MAX_DATE_MS) d.fail(`wall time ${wall} out of range`);
  let counter = 0;
  if (header & HAS_COUNTER) {
    counter = readVarUint(d);
    if (counter === 0) d.fail('non-canonical zero counter');
  }
  const collection = ctx.readName(d);
  const record = ctx.readRecord(d, form);
  const fields: FieldOp[] = [];
  for (let i = 0; i < nFields; i++) fields.push(readFieldOp(d, ctx));
  return { node, seq, wall, counter, collection, record, kind, fields };
}

function readFieldOp(d: Decoder, ctx: OpReadContext): FieldOp {
  const field = ctx.readName(d);
  const tag = readByte(d);
  if (tag < 0x80) return { type: 'set', field, value: readValueWithTag(d, tag, 0) };
  switch (tag) {
    case TAG_OP_MVSET: {
      const observed = readDots(d, ctx);
      return { type: 'mvset', field, value: readValue(d), observed };
    }
    case TAG_OP_INC:
      return { type: 'inc', field, delta: readVarInt(d) };
    case TAG_OP_UNSET:
      return { type: 'unset', field };
    case TAG_OP_ADD:
      return { type: 'add', field, value: readValue(d) };
    case TAG_OP_REMOVE: {
      const observed = readDots(d, ctx);
      return { type: 'remove', field, value: readValue(d), observed };
    }
    default:
      return d.fail(`unknown field op tag 0x${tag.toString(16)}`);
  }
}

function readDots(d: Decoder, ctx: OpReadContext): Dot[] {
  const n = readLength(d, 2);
  const dots: Dot[] = [];
  for (let i = 0; i < n; i++) {
    const node = ctx.readNode(d);
    const seq = readVarUint(d);
    if (seq < 1) d.fail('observed dot with sequence number < 1');
    dots.push({ node, seq });
  }
  return dots;
}
