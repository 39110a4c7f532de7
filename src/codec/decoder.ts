/**
 * Byte reader for BlazeBinary. Every read checks bounds first and throws `DecodeError`, the
 * only exception a decoder ever raises; no length read from the input allocates before it is
 * checked against the bytes that remain.
 */
import { DecodeError } from '../errors.ts';

export class Decoder {
  readonly buf: Uint8Array;
  pos: number;
  readonly end: number;
  readonly #view: DataView;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(reason: string): never {
    throw new DecodeError(reason, this.pos);
  }

  /** Throws unless at least `n` bytes remain. */
  need(n: number): void {
    if (n > this.end - this.pos) this.fail(`truncated: need ${n} bytes, ${this.end - this.pos} remain`);
  }

  float64(): number {
    this.need(8);
    const v = this.#view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
}

export function readByte(d: Decoder): number {
  if (d.pos >= d.end) d.fail('truncated: need 1 byte');
  return d.buf[d.pos++] as number;
}

/** Unsigned LEB128 up to 2^53 - 1; longer or larger encodings are rejected. */
export function readVarUint(d: Decoder): number {
  const buf = d.buf;
  let pos = d.pos;
  const end = d.end;
  if (pos < end) {
    const b = buf[pos] as number;
    if (b < 0x80) {
      d.pos = pos + 1;
      return b;
    }
  }
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 8; i++) {
    if (pos >= end) {
      d.pos = pos;
      d.fail('truncated varint');
    }
    const b = buf[pos++] as number;
    result += (b & 0x7f) * scale;
    if (b < 0x80) {
      if (result > Number.MAX_SAFE_INTEGER) {
        d.pos = pos;
        d.fail('varint exceeds 2^53 - 1');
      }
      d.pos = pos;
      return result;
    }
    scale *= 128;
  }
  d.pos = pos;
  return d.fail('varint longer than 8 bytes');
}

/** Zigzag-decoded signed safe integer. */
export function readVarInt(d: Decoder): number {
  const buf = d.buf;
  const start = d.pos;
  // Fast path: up to 7 bytes (49 bits) the zigzag value is exact as a double.
  let z = 0;
  let scale = 1;
  for (let i = 0, pos = start; i < 7 && pos < d.end; i++, pos++) {
    const b = buf[pos] as number;
    z += (b & 0x7f) * scale;
    if (b < 0x80) {
      d.pos = pos + 1;
      // Zigzag: even -> non-negative, odd -> negative.
      return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    }
    scale *= 128;
  }
  const big = readBigVarInt(d);
  if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < BigInt(Number.MIN_SAFE_INTEGER)) {
    d.pos = start;
    d.fail('integer outside the safe range');
  }
  return Number(big);
}

const BIG_7F = 0x7fn;

/** Zigzag LEB128 signed 64-bit bigint. */
export function readBigVarInt(d: Decoder): bigint {
  let z = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    const b = readByte(d);
    z |= (BigInt(b) & BIG_7F) << shift;
    if (b < 0x80) {
      if (z >= 1n << 64n) d.fail('int64 out of range');
      return z & 1n ? -((z + 1n) >> 1n) : z >> 1n;
    }
    shift += 7n;
  }
  return d.fail('int64 varint longer than 10 bytes');
}

/** `n` raw bytes as a copy (the input buffer may be reused by the caller). */
export function readRaw(d: Decoder, n: number): Uint8Array {
  d.need(n);
  const out = d.buf.slice(d.pos, d.pos + n);
  d.pos += n;
  return out;
}

/** A length prefix, checked against the bytes that remain. */
export function readLength(d: Decoder, minBytesPerItem = 1): number {
  const n = readVarUint(d);
  if (n * minBytesPerItem > d.end - d.pos) d.fail(`length ${n} exceeds the ${d.end - d.pos} bytes that remain`);
  return n;
}

export function readBytes(d: Decoder): Uint8Array {
  return readRaw(d, readLength(d));
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** `n` bytes of UTF-8. Short ASCII decodes by hand; invalid UTF-8 is a DecodeError. */
export function readUtf8(d: Decoder, n: number): string {
  d.need(n);
  const buf = d.buf;
  const start = d.pos;
  if (n <= 32) {
    let s = '';
    let i = start;
    const end = start + n;
    for (; i < end; i++) {
      const c = buf[i] as number;
      if (c >= 0x80) break;
      s += String.fromCharCode(c);
    }
    if (i === end) {
      d.pos = end;
      return s;
    }
  }
  let s: string;
  try {
    s = utf8.decode(buf.subarray(start, start + n));
  } catch {
    return d.fail('invalid UTF-8');
  }
  d.pos = start + n;
  return s;
}

export function readString(d: Decoder): string {
  return readUtf8(d, readLength(d));
}
