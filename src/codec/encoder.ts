/**
 * Byte writer for BlazeBinary. Free of policy: varints, zigzag, floats, strings, raw bytes.
 * Grows by chunks and concatenates once in `finish()`, so a large batch copies each byte once.
 */

const INITIAL_CHUNK = 256;
const MAX_CHUNK = 1 << 20;

export class Encoder {
  /** Current chunk and write position within it. */
  buf: Uint8Array;
  pos = 0;
  #done: Uint8Array[] = [];
  #doneBytes = 0;
  /** For floats only: made on first use, since most encoders (one per stored row) never write one. */
  #view: DataView | undefined;
  #scratch: Uint8Array | undefined;

  constructor(initialSize = INITIAL_CHUNK) {
    this.buf = new Uint8Array(initialSize);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#doneBytes + this.pos;
  }

  /** Makes room for `n` more bytes in the current chunk. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    if (this.pos > 0) {
      this.#done.push(this.buf.subarray(0, this.pos));
      this.#doneBytes += this.pos;
    }
    const size = Math.max(n, Math.min(MAX_CHUNK, this.buf.length * 2));
    this.buf = new Uint8Array(size);
    this.pos = 0;
  }

  /** Little-endian IEEE 754 double, bit-exact (keeps -0 and subnormals). */
  float64(n: number): void {
    this.ensure(8);
    this.#scratch ??= new Uint8Array(8);
    this.#view ??= new DataView(this.#scratch.buffer);
    this.#view.setFloat64(0, n, true);
    this.buf.set(this.#scratch, this.pos);
    this.pos += 8;
  }

  /** Empties the encoder for reuse, keeping its current chunk. */
  reset(): void {
    this.pos = 0;
    this.#done = [];
    this.#doneBytes = 0;
  }

  finish(): Uint8Array {
    if (this.#done.length === 0) return this.buf.slice(0, this.pos);
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const chunk of this.#done) {
      out.set(chunk, at);
      at += chunk.length;
    }
    out.set(this.buf.subarray(0, this.pos), at);
    return out;
  }
}

export function writeByte(e: Encoder, b: number): void {
  if (e.pos >= e.buf.length) e.ensure(1);
  e.buf[e.pos++] = b;
}

/** Unsigned LEB128 of a non-negative safe integer (at most 8 bytes). */
export function writeVarUint(e: Encoder, n: number): void {
  e.ensure(8);
  const buf = e.buf;
  let pos = e.pos;
  if (n < 0x80000000) {
    while (n > 0x7f) {
      buf[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[pos++] = n;
  } else {
    // Above 2^31 bit operations would truncate: split off 7 bits arithmetically.
    while (n > 0x7f) {
      const low = n % 128;
      buf[pos++] = low | 0x80;
      n = (n - low) / 128;
    }
    buf[pos++] = n;
  }
  e.pos = pos;
}

/** Zigzag-encoded signed safe integer: small magnitudes of either sign stay small. */
export function writeVarInt(e: Encoder, n: number): void {
  // Beyond 2^52 the zigzag value would exceed 2^53 and lose its low bit as a double.
  if (n < ZIGZAG_SAFE && n > -ZIGZAG_SAFE) writeVarUint(e, n >= 0 ? n * 2 : -n * 2 - 1);
  else writeBigVarInt(e, BigInt(n));
}

const ZIGZAG_SAFE = 2 ** 52;

const BIG_7F = 0x7fn;
const BIG_7 = 7n;

/** Zigzag LEB128 of a signed 64-bit bigint (at most 10 bytes). */
export function writeBigVarInt(e: Encoder, n: bigint): void {
  let z = n >= 0n ? n << 1n : (-n << 1n) - 1n;
  e.ensure(10);
  while (z > BIG_7F) {
    e.buf[e.pos++] = Number(z & BIG_7F) | 0x80;
    z >>= BIG_7;
  }
  e.buf[e.pos++] = Number(z);
}

export function writeFloat64(e: Encoder, n: number): void {
  e.float64(n);
}

export function writeRaw(e: Encoder, bytes: Uint8Array): void {
  e.ensure(bytes.length);
  e.buf.set(bytes, e.pos);
  e.pos += bytes.length;
}

/** Length-prefixed bytes. */
export function writeBytes(e: Encoder, bytes: Uint8Array): void {
  writeVarUint(e, bytes.length);
  writeRaw(e, bytes);
}

const utf8 = new TextEncoder();

/** Length-prefixed UTF-8 string. ASCII, the common case for names, skips the TextEncoder. */
export function writeString(e: Encoder, s: string): void {
  const n = s.length;
  if (n < 128) {
    e.ensure(1 + n);
    const start = e.pos + 1;
    const buf = e.buf;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[start + i] = c;
    }
    if (i === n) {
      buf[e.pos] = n;
      e.pos = start + n;
      return;
    }
  }
  // Straight into the buffer: no intermediate array per string.
  writeVarUint(e, Buffer.byteLength(s, 'utf8'));
  writeUtf8Body(e, s);
}

/** Writes `s` as UTF-8 without a length prefix; returns the byte count. */
export function writeUtf8Body(e: Encoder, s: string): number {
  e.ensure(s.length * 3);
  const { written } = utf8.encodeInto(s, e.buf.subarray(e.pos));
  e.pos += written;
  return written;
}
