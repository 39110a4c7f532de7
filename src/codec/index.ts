/**
 * BlazeBinary: the compact, versioned binary encoding of values, ops and batches of ops.
 * The byte layout is specified in docs/blazebinary.md.
 *
 * Usage:
 *   const bytes = encodeBatch(ops);
 *   const back = decodeBatch(bytes); // throws DecodeError, and only DecodeError, on bad input
 */
import { DecodeError } from '../errors.ts';
import type { NodeId } from '../identity/node-id.ts';
import type { Op } from '../ops/op.ts';
import type { Value } from '../values/value.ts';
import { PAYLOAD_BATCH, PAYLOAD_OP, PAYLOAD_VALUE, PAYLOAD_VERSION } from './constants.ts';
import { BatchReadContext, BatchWriteContext, standaloneContext } from './contexts.ts';
import { Decoder, readByte, readLength } from './decoder.ts';
import { Encoder, writeByte, writeVarUint } from './encoder.ts';
import { readOp, writeOp } from './op-codec.ts';
import { readValue, writeValue } from './value-codec.ts';
import { readVersion, writeVersion } from './version-codec.ts';

export { DecodeError } from '../errors.ts';
export { BatchReadContext, BatchWriteContext, type InternCapacity } from './contexts.ts';
export { Encoder } from './encoder.ts';
export { compressBlock, decompressBlock } from './lz4.ts';

const PAYLOAD_NAMES: Record<number, string> = {
  [PAYLOAD_VALUE]: 'value',
  [PAYLOAD_OP]: 'op',
  [PAYLOAD_BATCH]: 'batch',
  [PAYLOAD_VERSION]: 'version vector',
};

/** `into`: an encoder to reuse (hot loops); it is reset first. */
export function encodeValue(value: Value, into?: Encoder): Uint8Array {
  const e = reuse(into);
  writeByte(e, PAYLOAD_VALUE);
  writeValue(e, value);
  return e.finish();
}

export function decodeValue(bytes: Uint8Array): Value {
  return decodeWhole(bytes, PAYLOAD_VALUE, (d) => readValue(d));
}

/** A version vector (origin -> seq) on its own, as a store keeps one. */
export function encodeVersionVector(version: ReadonlyMap<NodeId, number>): Uint8Array {
  const e = new Encoder(8 + version.size * 11);
  writeByte(e, PAYLOAD_VERSION);
  writeVersion(e, version);
  return e.finish();
}

export function decodeVersionVector(bytes: Uint8Array): Map<NodeId, number> {
  return decodeWhole(bytes, PAYLOAD_VERSION, (d) => readVersion(d));
}

export function encodeOp(op: Op, into?: Encoder): Uint8Array {
  const e = reuse(into);
  writeByte(e, PAYLOAD_OP);
  writeOp(e, op, standaloneContext);
  return e.finish();
}

export function decodeOp(bytes: Uint8Array): Op {
  return decodeWhole(bytes, PAYLOAD_OP, (d) => readOp(d, standaloneContext));
}

/**
 * Encodes ops as one batch, interning repeated ids and names and delta-encoding clocks. Pass a
 * context to continue the interning tables and deltas of earlier batches of the same stream
 * (the reader then passes its matching context to `decodeBatch`).
 */
export function encodeBatch(ops: readonly Op[], ctx = new BatchWriteContext()): Uint8Array {
  const e = new Encoder(64 + ops.length * 32);
  writeByte(e, PAYLOAD_BATCH);
  writeVarUint(e, ops.length);
  for (const op of ops) writeOp(e, op, ctx);
  return e.finish();
}

export function decodeBatch(bytes: Uint8Array, ctx = new BatchReadContext()): Op[] {
  return decodeWhole(bytes, PAYLOAD_BATCH, (d) => {
    // Every op takes at least 6 bytes (header, node, seq, wall, collection, record), checked up front.
    const n = readLength(d, 6);
    const ops: Op[] = [];
    for (let i = 0; i < n; i++) ops.push(readOp(d, ctx));
    return ops;
  });
}

function reuse(e: Encoder | undefined): Encoder {
  if (!e) return new Encoder(64);
  e.reset();
  return e;
}

/** Checks the version byte, decodes, and insists every byte was consumed. */
function decodeWhole<T>(bytes: Uint8Array, payload: number, read: (d: Decoder) => T): T {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('input is not a Uint8Array');
  const d = new Decoder(bytes);
  try {
    const first = readByte(d);
    if (first !== payload) {
      const version = first >> 4;
      const got = version === 1 ? `a v1 ${PAYLOAD_NAMES[first] ?? 'unknown payload'}` : `format version ${version}`;
      d.pos = 0;
      d.fail(`expected a BlazeBinary v1 ${PAYLOAD_NAMES[payload]}, got ${got} (byte 0x${first.toString(16)})`);
    }
    const result = read(d);
    if (d.pos !== d.end) d.fail(`${d.end - d.pos} trailing bytes`);
    return result;
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    // A decoder must only ever throw DecodeError; anything else is a bug, reported as one.
    throw new DecodeError(`internal decoder error: ${String(err)}`, d.pos);
  }
}
