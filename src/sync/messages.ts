/**
 * Sync protocol messages and their BlazeBinary frames. Layouts: docs/protocol.md.
 * A frame is one message: a type byte, then its body.
 */

import { Decoder, readByte, readBytes, readLength, readString, readVarUint } from '../codec/decoder.ts';
import { Encoder, writeByte, writeBytes, writeString, writeVarUint } from '../codec/encoder.ts';
import { type BatchReadContext, type BatchWriteContext, compressBlock, decodeBatch, decompressBlock, encodeBatch } from '../codec/index.ts';
import { readNodeLiteral, writeNodeLiteral } from '../codec/intern.ts';
import { DecodeError } from '../errors.ts';
import type { NodeId } from '../identity/node-id.ts';
import type { Op } from '../ops/op.ts';
import { LZ4_MIN_BYTES, MAX_CREDENTIALS_BYTES } from './constants.ts';

export type Role = 'peer' | 'relay';
export type AckLevel = 'local-durable' | 'relay-durable';
/** A version vector on the wire: origin -> highest contiguous seq. */
export type WireVersion = ReadonlyMap<NodeId, number>;

export interface Hello {
  readonly type: 'hello';
  readonly major: number;
  readonly minor: number;
  readonly dbId: string;
  readonly nodeId: NodeId;
  readonly role: Role;
  readonly version: WireVersion;
  /** Opaque to the protocol: the authorizer reads it (a JWT with the relay). */
  readonly credentials: Uint8Array;
}

export interface OpsMessage {
  readonly type: 'ops';
  readonly ops: readonly Op[];
}

export interface Ack {
  readonly type: 'ack';
  readonly level: AckLevel;
  readonly version: WireVersion;
}

export interface Close {
  readonly type: 'close';
  readonly code: string;
  readonly message: string;
}

export type Message = Hello | OpsMessage | Ack | Close;

const T_HELLO = 0x01;
const T_OPS = 0x02;
const T_ACK = 0x03;
const T_CLOSE = 0x04;
const OPS_LZ4 = 0x01;
const ROLES: Role[] = ['peer', 'relay'];
const LEVELS: AckLevel[] = ['local-durable', 'relay-durable'];

function writeVersion(e: Encoder, v: WireVersion): void {
  writeVarUint(e, v.size);
  for (const [node, seq] of v) {
    writeNodeLiteral(e, node);
    writeVarUint(e, seq);
  }
}

function readVersion(d: Decoder): Map<NodeId, number> {
  const n = readLength(d, 9);
  const v = new Map<NodeId, number>();
  for (let i = 0; i < n; i++) {
    const node = readNodeLiteral(d);
    if (v.has(node)) d.fail('version vector names a node twice');
    v.set(node, readVarUint(d));
  }
  return v;
}

/**
 * `stream`: the sending side's batch context for this session, so OPS batches continue one
 * interning stream (a record id travels in full once per session, then as an index).
 */
export function encodeMessage(m: Message, stream?: BatchWriteContext): Uint8Array {
  const e = new Encoder(64);
  switch (m.type) {
    case 'hello':
      writeByte(e, T_HELLO);
      writeVarUint(e, m.major);
      writeVarUint(e, m.minor);
      writeString(e, m.dbId);
      writeNodeLiteral(e, m.nodeId);
      writeByte(e, ROLES.indexOf(m.role));
      writeVersion(e, m.version);
      writeBytes(e, m.credentials);
      break;
    case 'ops': {
      writeByte(e, T_OPS);
      const batch = encodeBatch(m.ops, stream);
      const packed = batch.length >= LZ4_MIN_BYTES ? compressBlock(batch) : undefined;
      if (packed && packed.length < batch.length) {
        writeByte(e, OPS_LZ4);
        e.ensure(packed.length);
        e.buf.set(packed, e.pos);
        e.pos += packed.length;
      } else {
        writeByte(e, 0);
        e.ensure(batch.length);
        e.buf.set(batch, e.pos);
        e.pos += batch.length;
      }
      break;
    }
    case 'ack':
      writeByte(e, T_ACK);
      writeByte(e, LEVELS.indexOf(m.level));
      writeVersion(e, m.version);
      break;
    case 'close':
      writeByte(e, T_CLOSE);
      writeString(e, m.code);
      writeString(e, m.message);
      break;
  }
  return e.finish();
}

/** Decodes a frame; throws DecodeError (only) on anything malformed. */
export function decodeMessage(frame: Uint8Array, maxFrameBytes: number, stream?: BatchReadContext): Message {
  const d = new Decoder(frame);
  try {
    const type = readByte(d);
    let m: Message;
    switch (type) {
      case T_HELLO: {
        const major = readVarUint(d);
        const minor = readVarUint(d);
        const dbId = readString(d);
        const nodeId = readNodeLiteral(d);
        const role = ROLES[readByte(d)] ?? d.fail('unknown role');
        const version = readVersion(d);
        const credentials = readBytes(d);
        if (credentials.length > MAX_CREDENTIALS_BYTES) d.fail('credentials too large');
        m = { type: 'hello', major, minor, dbId, nodeId, role, version, credentials };
        break;
      }
      case T_OPS: {
        const flags = readByte(d);
        if (flags & ~OPS_LZ4) d.fail('unknown ops flags');
        const body = frame.subarray(d.pos);
        d.pos = d.end;
        const batch = flags & OPS_LZ4 ? decompressBlock(body, maxFrameBytes * 4) : body;
        m = { type: 'ops', ops: decodeBatch(batch, stream) };
        break;
      }
      case T_ACK: {
        const level = LEVELS[readByte(d)] ?? d.fail('unknown ack level');
        m = { type: 'ack', level, version: readVersion(d) };
        break;
      }
      case T_CLOSE:
        m = { type: 'close', code: readString(d), message: readString(d) };
        break;
      default:
        return d.fail(`unknown message type 0x${type.toString(16)}`);
    }
    if (d.pos !== d.end) d.fail('trailing bytes');
    return m;
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    throw new DecodeError(`internal decoder error: ${String(err)}`, d.pos);
  }
}
