/**
 * Malformed input: decoding untrusted bytes throws a `DecodeError` and nothing else, never hangs,
 * and never allocates more than the input justifies. A hand-made corpus (one case per defect)
 * plus properties over random and mutated bytes.
 *
 * Every case is checked with `assertDecodeError`: the error is a `DecodeError` by class and by
 * name, and not the 'internal decoder error' wrapper `decodeWhole` puts around any other
 * exception (which would mean a bug let a TypeError, RangeError... escape).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import lz4 from 'lz4-wasm-nodejs';
import {
  compressBlock,
  DecodeError,
  decodeBatch,
  decodeOp,
  decodeValue,
  decodeVersionVector,
  decompressBlock,
  encodeBatch,
  encodeOp,
  encodeValue,
  encodeVersionVector,
} from '../../src/codec/index.ts';
import type { NodeId } from '../../src/identity/node-id.ts';
import type { Op } from '../../src/ops/op.ts';
import type { RecordRef } from '../../src/values/value.ts';
import { opArb, valueArb } from '../helpers/arbitraries.ts';
import { checkProperty } from '../helpers/property.ts';

// ---- helpers ----

/** First byte of each top-level encoding: version 1 << 4 | payload kind. */
const V = 0x10; // value
const O = 0x11; // op
const B = 0x12; // batch

/** 2^31 as an unsigned LEB128 varint: the classic "allocate 2 GB" length claim. */
const LEN_2_31 = [0x80, 0x80, 0x80, 0x80, 0x08];

/** Format epoch of wall times (2025-01-01T00:00:00Z), as in src/codec/constants.ts. */
const WALL_EPOCH_MS = 1_735_689_600_000;
const MAX_DATE_MS = 8.64e15;

/** Unsigned LEB128, as BlazeBinary writes lengths, counts and zigzagged integers. */
function uvarint(n: number | bigint): number[] {
  let x = BigInt(n);
  const out: number[] = [];
  while (x > 0x7fn) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return out;
}

/** Zigzag then LEB128: how signed integers (ints, timestamps, wall times, deltas) travel. */
function svarint(n: number | bigint): number[] {
  const x = BigInt(n);
  return uvarint(x >= 0n ? x * 2n : -x * 2n - 1n);
}

/** The UTF-8 bytes of `s`. */
function utf8(s: string): number[] {
  return [...Buffer.from(s, 'utf8')];
}

/** A short ASCII name as written: its bytes, the last with its high bit set ('bugs' -> 62 75 67 f3). */
function name(s: string): number[] {
  const b = utf8(s);
  b[b.length - 1] = b[b.length - 1]! | 0x80;
  return b;
}

/** A name in the escape form: 0x80 (a marked NUL), varuint byte length, then the bytes. */
function escapedName(body: readonly number[]): number[] {
  return [0x80, ...uvarint(body.length), ...body];
}

/** Concatenates bytes and byte lists into one input. */
function bytes(...parts: (number | ArrayLike<number>)[]): Uint8Array {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === 'number') out.push(part);
    else for (let i = 0; i < part.length; i++) out.push(part[i]!);
  }
  return Uint8Array.from(out);
}

function repeat(part: readonly number[], times: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < times; i++) out.push(...part);
  return out;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** `err` is a genuine DecodeError, not another exception and not the internal-error wrapper. */
function assertIsDecodeError(err: unknown, label: string): asserts err is DecodeError {
  assert.ok(err instanceof DecodeError, `${label}: threw ${String(err)}, not a DecodeError`);
  assert.equal(err.name, 'DecodeError', `${label}: wrong error name`);
  assert.ok(!err.message.startsWith('internal decoder error'), `${label}: a non-DecodeError escaped the decoder (a bug): ${err.message}`);
}

/** Calls `fn`, which must throw a DecodeError. */
function assertDecodeError(fn: () => unknown, label = 'input'): DecodeError {
  let thrown: unknown;
  let threw = false;
  try {
    fn();
  } catch (err) {
    threw = true;
    thrown = err;
  }
  assert.ok(threw, `${label}: decoded without an error`);
  assertIsDecodeError(thrown, label);
  return thrown;
}

/** Calls `fn`, which may succeed (its result) or throw a DecodeError (undefined); nothing else. */
function decodeOrDecodeError<T>(fn: () => T, label: string): T | undefined {
  try {
    return fn();
  } catch (err) {
    assertIsDecodeError(err, label);
    return undefined;
  }
}

const rejectValue = (input: Uint8Array) => assertDecodeError(() => decodeValue(input), `decodeValue(${hex(input)})`);
const rejectOp = (input: Uint8Array) => assertDecodeError(() => decodeOp(input), `decodeOp(${hex(input)})`);
const rejectBatch = (input: Uint8Array) => assertDecodeError(() => decodeBatch(input), `decodeBatch(${hex(input)})`);

// ---- op fixtures, built part by part so each case breaks exactly one part ----

/** Node id '0123456789abcdef' as its 8 raw bytes. */
const NODE = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];

interface OpParts {
  header: number[];
  /** Only when the header's field count is 7: the varint count. */
  fieldCount: number[];
  node: number[];
  seq: number[];
  wall: number[];
  /** Only when the header's counter bit (0x10) is set. */
  counter: number[];
  collection: number[];
  record: number[];
  fields: number[];
}

/** A valid standalone op: update of bugs/'a' setting x = 5, seq 1, wall at the format epoch. */
const OP: OpParts = {
  header: [0x21], // bits 0-1 kind 1 (update), 2-3 id form 0 (UTF-8), bit 4 no counter, 5-7 one field
  fieldCount: [],
  node: NODE, // literal node id
  seq: [0x01], // seq 1
  wall: [0x00], // zigzag 0: wall = the format epoch
  counter: [],
  collection: name('bugs'), // 62 75 67 f3: 'bugs', the last byte marked
  record: [0x01, ...utf8('a')], // UTF-8 record id: length 1, 'a'
  fields: [...name('x'), 0x05], // field name 'x' (one byte, 0x78 | 0x80), value tag fixint 5 (a 'set')
};

/** The bytes of an op (without the version byte) in the order the decoder reads them. */
function opBytes(p: OpParts): number[] {
  return [...p.header, ...p.fieldCount, ...p.node, ...p.seq, ...p.wall, ...p.counter, ...p.collection, ...p.record, ...p.fields];
}

/** The valid standalone op with some parts replaced. */
function op(changes: Partial<OpParts> = {}): Uint8Array {
  return bytes(O, opBytes({ ...OP, ...changes }));
}

/** A valid first op of a batch: every node, name and record spelled out and interned. */
const BATCH_OP1: OpParts = {
  header: [0x21], // update, id form 0, no counter, one field
  fieldCount: [],
  node: [0x00, ...NODE], // index 0: a new literal node id (becomes node 1)
  seq: [0x00], // zigzag gap 0: seq = 0 + 1 + 0 = 1
  wall: [0x00], // zigzag delta 0 from the epoch
  counter: [],
  collection: [0x00, ...name('bugs')], // index 0: new name 'bugs' (becomes name 1)
  record: [0x00, 0x01, ...utf8('a')], // index 0: new record id 'a' (becomes record 1)
  fields: [0x00, ...name('x'), 0x05], // index 0: new name 'x' (name 2), set to 5
};

/** A valid second op of a batch: the same node (seq 2), collection, record and field, by index. */
const BATCH_OP2: OpParts = {
  header: [0x21],
  fieldCount: [],
  node: [0x01], // node 1
  seq: [0x00], // gap 0: seq 2
  wall: [0x00], // same wall
  counter: [],
  collection: [0x01], // name 1: 'bugs'
  record: [0x01], // record 1: 'a'
  fields: [0x02, 0x06], // name 2: 'x', set to 6
};

/** A batch of `count` (as written) ops made of the given parts. */
function batch(count: readonly number[], ...ops: Partial<OpParts>[]): Uint8Array {
  const out: number[] = [B, ...count];
  ops.forEach((changes, i) => {
    out.push(...opBytes({ ...(i === 0 ? BATCH_OP1 : BATCH_OP2), ...changes }));
  });
  return Uint8Array.from(out);
}

// ---- the corpus ----

describe('BlazeBinary malformed values', () => {
  it('should decode the valid inputs the malformed cases are made from', () => {
    assert.equal(decodeValue(bytes(V, 0x05)), 5);
    assert.equal(decodeValue(bytes(V, 0x46, 0x03, utf8('abc'))), 'abc');
    assert.deepEqual(decodeValue(bytes(V, 0x4b, 0x02, 0x01, utf8('a'), 0x01, 0x01, utf8('b'), 0x02)), { a: 1, b: 2 });
    assert.deepEqual(decodeValue(bytes(V, 0x48, svarint(MAX_DATE_MS))), new Date(MAX_DATE_MS)); // latest Date
    assert.equal(decodeValue(bytes(V, 0x44, 0xfe, repeat([0xff], 8), 0x01)), 2n ** 63n - 1n); // 10-byte int64
    // 64 nested arrays are allowed, the innermost holding null.
    assert.ok(Array.isArray(decodeValue(bytes(V, repeat([0x4a, 0x01], 64), 0x40))));
  });

  it('should reject empty input', () => {
    rejectValue(bytes());
  });

  it('should reject a version byte with no value after it', () => {
    rejectValue(bytes(V));
  });

  it('should reject format version 2 (0x20)', () => {
    rejectValue(bytes(0x20, 0x05));
  });

  it('should reject format version 0 (0x00)', () => {
    rejectValue(bytes(0x00, 0x05));
  });

  it('should reject version byte 0xff', () => {
    rejectValue(bytes(0xff, 0x05));
  });

  it('should reject an op payload byte given to decodeValue', () => {
    rejectValue(bytes(O, 0x05));
  });

  it('should reject a batch payload byte given to decodeValue', () => {
    rejectValue(bytes(B, 0x05));
  });

  it('should reject arguments that are not a Uint8Array, even holding the right bytes', () => {
    const notBytes: unknown[] = [null, undefined, 'x', 16, {}, [V, 0x05], new Uint16Array([V, 0x05]), new DataView(new ArrayBuffer(2))];
    for (const arg of notBytes) {
      const label = Object.prototype.toString.call(arg);
      assertDecodeError(() => decodeValue(arg as Uint8Array), `decodeValue(${label})`);
      assertDecodeError(() => decodeOp(arg as Uint8Array), `decodeOp(${label})`);
      assertDecodeError(() => decodeBatch(arg as Uint8Array), `decodeBatch(${label})`);
    }
  });

  it('should not read past the end of a view into a larger buffer', () => {
    // The bytes after the view would complete the value; the decoder must not look at them.
    const buffer = bytes(0xee, encodeValue(1.5), encodeValue('abc').subarray(1));
    const float = buffer.subarray(1, 1 + 10); // 0x10, tag 0x45, 8 bytes
    assert.equal(decodeValue(float), 1.5);
    rejectValue(float.subarray(0, 9)); // the float's last byte is just outside the view
    const op = bytes(0xee, encodeOp(decodeOp(bytes(O, opBytes(OP)))), 0x00);
    assert.equal(decodeOp(op.subarray(1, op.length - 1)).collection, 'bugs');
    rejectOp(op.subarray(1, op.length - 2));
  });

  it('should reject a truncated int varint', () => {
    rejectValue(bytes(V, 0x43, 0x80)); // int tag, varint with its continuation bit set, then nothing
  });

  it('should reject a truncated string length varint', () => {
    rejectValue(bytes(V, 0x46, 0xff, 0xff)); // string tag, length varint never terminates
  });

  it('should reject a length varint longer than 8 bytes', () => {
    rejectValue(bytes(V, 0x46, repeat([0x80], 8), 0x00)); // string length 0 padded to 9 bytes
  });

  it('should reject an array count varint longer than 8 bytes', () => {
    rejectValue(bytes(V, 0x4a, repeat([0x80], 9), 0x00));
  });

  it('should reject a length varint of 2^53', () => {
    rejectValue(bytes(V, 0x46, repeat([0x80], 7), 0x10)); // 16 * 128^7 = 2^53
  });

  it('should reject a length varint of 2^56 - 1 (all 8 bytes full)', () => {
    rejectValue(bytes(V, 0x47, repeat([0xff], 7), 0x7f));
  });

  it('should reject an int outside the safe integer range', () => {
    rejectValue(bytes(V, 0x43, svarint(2n ** 53n))); // int tag, zigzag 2^53
  });

  it('should reject a string length of 2^31 with only 3 bytes following', () => {
    rejectValue(bytes(V, 0x46, LEN_2_31, utf8('abc')));
  });

  it('should reject a string length one more than the bytes that remain', () => {
    rejectValue(bytes(V, 0x46, 0x04, utf8('abc')));
  });

  it('should reject a fixstr whose bytes are missing', () => {
    rejectValue(bytes(V, 0x65, utf8('abc'))); // fixstr of 5 bytes, 3 given
  });

  it('should reject a bytes length of 2^31 with only 3 bytes following', () => {
    rejectValue(bytes(V, 0x47, LEN_2_31, 0x01, 0x02, 0x03));
  });

  it('should reject an array count of 2^31 with only 3 items following', () => {
    rejectValue(bytes(V, 0x4a, LEN_2_31, 0x01, 0x02, 0x03));
  });

  it('should reject a map count of 2^31 with only one entry following', () => {
    rejectValue(bytes(V, 0x4b, LEN_2_31, 0x01, utf8('a'), 0x01));
  });

  it('should reject an array with fewer items than its count', () => {
    rejectValue(bytes(V, 0x4a, 0x03, 0x01, 0x02)); // count 3, two fixints
  });

  it('should reject 1000 nested arrays', () => {
    rejectValue(bytes(V, repeat([0x4a, 0x01], 1000), 0x40)); // [[[...[null]...]]]
  });

  it('should reject 65 nested arrays, one more than the limit', () => {
    rejectValue(bytes(V, repeat([0x4a, 0x01], 65), 0x40));
  });

  it('should reject 1000 nested maps', () => {
    rejectValue(bytes(V, repeat([0x4b, 0x01, 0x01, ...utf8('k')], 1000), 0x40)); // {k: {k: ... null}}
  });

  it('should reject deep nesting alternating arrays and maps', () => {
    rejectValue(bytes(V, repeat([0x4a, 0x01, 0x4b, 0x01, 0x01, ...utf8('k')], 500), 0x40));
  });

  it('should reject 100000 nested arrays without overflowing the stack', () => {
    rejectValue(bytes(V, repeat([0x4a, 0x01], 100_000), 0x40));
  });

  for (let tag = 0x4c; tag <= 0x5f; tag++) {
    it(`should reject unknown value tag 0x${tag.toString(16)}`, () => {
      rejectValue(bytes(V, tag, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00));
    });
  }

  it('should reject field op tags 0x80-0x83 in value position', () => {
    for (let tag = 0x80; tag <= 0x83; tag++) rejectValue(bytes(V, tag, 0x00, 0x05));
  });

  it('should reject unknown value tag 0xff', () => {
    rejectValue(bytes(V, 0xff));
  });

  it('should reject an unknown tag nested in an array', () => {
    rejectValue(bytes(V, 0x4a, 0x02, 0x05, 0x5f));
  });

  it('should reject invalid UTF-8 in a fixstr (bad continuation byte)', () => {
    rejectValue(bytes(V, 0x63, 0xc3, 0x28, 0x41)); // fixstr of 3: C3 must be followed by 80-BF
  });

  it('should reject a lone UTF-8 continuation byte', () => {
    rejectValue(bytes(V, 0x61, 0x80));
  });

  it('should reject an overlong UTF-8 encoding of "/"', () => {
    rejectValue(bytes(V, 0x62, 0xc0, 0xaf));
  });

  it('should reject a UTF-8 sequence cut off at the end of the string', () => {
    rejectValue(bytes(V, 0x62, 0x41, 0xe2)); // 'A' then the first of 3 bytes
  });

  it('should reject an encoded lone surrogate (ED A0 80)', () => {
    rejectValue(bytes(V, 0x63, 0xed, 0xa0, 0x80)); // U+D800 in CESU style: not UTF-8
  });

  it('should reject a code point above U+10FFFF (F4 90 80 80)', () => {
    rejectValue(bytes(V, 0x64, 0xf4, 0x90, 0x80, 0x80));
  });

  it('should reject invalid UTF-8 in a long string (past the ASCII fast path)', () => {
    rejectValue(bytes(V, 0x46, 40, repeat(utf8('a'), 38), 0xed, 0xa0)); // 38 'a's then a cut surrogate
  });

  it('should reject invalid UTF-8 in a map key', () => {
    rejectValue(bytes(V, 0x4b, 0x01, 0x01, 0xff, 0x05));
  });

  it('should reject a map with a repeated key', () => {
    rejectValue(bytes(V, 0x4b, 0x02, 0x01, utf8('a'), 0x01, 0x01, utf8('a'), 0x02)); // {a: 1, a: 2}
  });

  it("should reject the map key '__proto__'", () => {
    rejectValue(bytes(V, 0x4b, 0x01, 0x09, utf8('__proto__'), 0x4b, 0x00)); // {__proto__: {}}
  });

  it('should reject a map with fewer entries than its count', () => {
    rejectValue(bytes(V, 0x4b, 0x02, 0x01, utf8('a'), 0x01)); // count 2, one entry
  });

  it('should reject a map entry with a key but no value', () => {
    rejectValue(bytes(V, 0x4b, 0x01, 0x01, utf8('a')));
  });

  it('should reject a float64 NaN', () => {
    rejectValue(bytes(V, 0x45, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x7f)); // little-endian 0x7ff8000000000000
  });

  it('should reject a float64 NaN with a payload and the sign bit', () => {
    rejectValue(bytes(V, 0x45, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0xff));
  });

  it('should reject a float64 +Infinity', () => {
    rejectValue(bytes(V, 0x45, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x7f));
  });

  it('should reject a float64 -Infinity', () => {
    rejectValue(bytes(V, 0x45, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0xff));
  });

  it('should reject a float64 with fewer than 8 bytes', () => {
    rejectValue(bytes(V, 0x45, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0));
  });

  it('should reject a timestamp one ms beyond 8.64e15', () => {
    rejectValue(bytes(V, 0x48, svarint(MAX_DATE_MS + 1)));
  });

  it('should reject a timestamp one ms before -8.64e15', () => {
    rejectValue(bytes(V, 0x48, svarint(-MAX_DATE_MS - 1)));
  });

  it('should reject a timestamp beyond the safe integer range', () => {
    rejectValue(bytes(V, 0x48, svarint(2n ** 60n)));
  });

  it('should reject a bigint varint longer than 10 bytes', () => {
    rejectValue(bytes(V, 0x44, repeat([0x80], 10), 0x00)); // 0 padded to 11 bytes
  });

  it('should reject a 10-byte bigint varint beyond 64 bits', () => {
    rejectValue(bytes(V, 0x44, repeat([0xff], 9), 0x7f)); // zigzag value 2^70 - 1
  });

  it('should reject a truncated bigint varint', () => {
    rejectValue(bytes(V, 0x44, 0xff, 0xff));
  });

  it('should decode the valid ref the malformed ref cases are made from', () => {
    const ref = decodeValue(bytes(V, 0x49, name('bugs'), 0x02, 0x02, 0xab, 0xcd)); // bugs, hex form, 2 bytes
    assert.deepEqual([(ref as RecordRef).collection, (ref as RecordRef).id], ['bugs', 'abcd']);
  });

  it('should reject a ref with an empty collection name', () => {
    rejectValue(bytes(V, 0x49, escapedName([]), 0x00, 0x01, utf8('a'))); // collection '', form 0, id 'a'
  });

  it('should reject a ref whose collection name has a NUL', () => {
    rejectValue(bytes(V, 0x49, 0x00, 0x00, 0x01, utf8('a')));
  });

  it('should reject a ref whose collection name runs to the end of the input', () => {
    rejectValue(bytes(V, 0x49, utf8('bugs')));
  });

  it("should reject a ref to the collection '__proto__', a name the validator forbids", () => {
    rejectValue(bytes(V, 0x49, name('__proto__'), 0x00, 0x01, utf8('a')));
  });

  it('should reject a ref with an escaped collection name length of 2^31', () => {
    rejectValue(bytes(V, 0x49, 0x80, LEN_2_31, utf8('bugs')));
  });

  it('should reject a ref with record id form 3', () => {
    rejectValue(bytes(V, 0x49, name('bugs'), 0x03, 0x01, utf8('a')));
  });

  it('should reject a ref with record id form 0xff', () => {
    rejectValue(bytes(V, 0x49, name('bugs'), 0xff, 0x01, utf8('a')));
  });

  it('should reject a ref with an empty UTF-8 record id', () => {
    rejectValue(bytes(V, 0x49, name('bugs'), 0x00, 0x00));
  });

  it('should reject a ref with a hex record id of length 0', () => {
    rejectValue(bytes(V, 0x49, name('bugs'), 0x02, 0x00));
  });

  it('should reject a ref with a hex record id of length 16 (that is form 1)', () => {
    rejectValue(bytes(V, 0x49, name('bugs'), 0x02, 0x10, repeat([0xab], 16)));
  });

  it('should reject a ref with a hex record id of length 200', () => {
    rejectValue(bytes(V, 0x49, name('bugs'), 0x02, uvarint(200), repeat([0xab], 200)));
  });

  it('should reject a ref with a 16-byte record id cut short', () => {
    rejectValue(bytes(V, 0x49, name('bugs'), 0x01, repeat([0xab], 15)));
  });

  it('should reject a trailing byte after a valid value', () => {
    rejectValue(bytes(V, 0x05, 0x00));
  });

  it('should reject a second value after a valid value', () => {
    rejectValue(bytes(encodeValue({ a: [1, 'x'] }), encodeValue(null)));
  });

  it('should reject every truncation of a valid value', () => {
    const valid = encodeValue({ list: [1, -70, 2n ** 40n, 1.5, 'héllo', new Uint8Array([1, 2]), new Date(5)], ok: true });
    for (let n = 0; n < valid.length; n++) rejectValue(valid.subarray(0, n));
  });
});

describe('BlazeBinary malformed ops', () => {
  it('should decode the valid op the malformed cases are made from', () => {
    const decoded = decodeOp(op());
    assert.deepEqual(decoded, {
      node: '0123456789abcdef',
      seq: 1,
      wall: WALL_EPOCH_MS,
      counter: 0,
      collection: 'bugs',
      record: 'a',
      kind: 'update',
      fields: [{ type: 'set', field: 'x', value: 5 }],
    });
    assert.equal(decodeOp(op({ header: [0x31], counter: [0x07] })).counter, 7); // counter bit and counter 7
    assert.equal(decodeOp(op({ header: [0x29], record: [0x02, 0xab, 0xcd] })).record, 'abcd'); // hex id form
  });

  it('should reject empty input', () => {
    rejectOp(bytes());
  });

  it('should reject a version byte with no op after it', () => {
    rejectOp(bytes(O));
  });

  it('should reject format version 2 (0x21)', () => {
    rejectOp(bytes(0x21, op().subarray(1)));
  });

  it('should reject format version 0 (0x01)', () => {
    rejectOp(bytes(0x01, op().subarray(1)));
  });

  it('should reject a batch payload byte given to decodeOp', () => {
    rejectOp(bytes(B, op().subarray(1)));
  });

  it('should reject a value payload byte given to decodeOp', () => {
    rejectOp(bytes(V, op().subarray(1)));
  });

  it('should reject a valid value given to decodeOp', () => {
    rejectOp(encodeValue('hello'));
  });

  it('should reject op kind 3', () => {
    rejectOp(op({ header: [0x23] })); // kind bits 11
  });

  it('should reject a delete op carrying a field', () => {
    rejectOp(op({ header: [0x22] })); // kind 2 (delete), one field
  });

  it('should reject sequence number 0', () => {
    rejectOp(op({ seq: [0x00] }));
  });

  it('should reject a sequence number of 2^53', () => {
    rejectOp(op({ seq: [...repeat([0x80], 7), 0x10] }));
  });

  it('should reject a truncated sequence number varint', () => {
    rejectOp(bytes(O, 0x21, NODE, 0x80));
  });

  it('should reject a flagged zero counter', () => {
    rejectOp(op({ header: [0x31], counter: [0x00] })); // counter bit set, counter 0 (non-canonical)
  });

  it('should reject a field count escape holding a small count', () => {
    rejectOp(op({ header: [0xe1], fieldCount: [0x01] })); // count bits 7 (escape), then count 1
  });

  it('should reject a field count escape holding 6, the largest inline count', () => {
    rejectOp(op({ header: [0xe1], fieldCount: [0x06], fields: repeat([...name('x'), 0x05], 6) }));
  });

  it('should reject a field count escape of 2^31 with one field following', () => {
    rejectOp(op({ header: [0xe1], fieldCount: LEN_2_31 }));
  });

  it('should reject an op with fewer fields than its header says', () => {
    rejectOp(op({ header: [0x41] })); // two fields announced, one given
  });

  it('should reject a truncated node id', () => {
    rejectOp(bytes(O, 0x21, 0x01, 0x23, 0x45));
  });

  it('should reject a wall time before 1970', () => {
    rejectOp(op({ wall: svarint(-WALL_EPOCH_MS - 1) })); // wall = -1
  });

  it('should reject a wall time beyond 8.64e15', () => {
    rejectOp(op({ wall: svarint(MAX_DATE_MS - WALL_EPOCH_MS + 1) }));
  });

  it('should reject a wall time varint beyond the safe integer range', () => {
    rejectOp(op({ wall: svarint(2n ** 62n) }));
  });

  it('should decode names of every shape the malformed name cases are made from', () => {
    assert.equal(decodeOp(op({ collection: name('b'.repeat(255)) })).collection, 'b'.repeat(255)); // longest short name
    assert.equal(decodeOp(op({ collection: escapedName(utf8('bügs')) })).collection, 'bügs');
    assert.equal(decodeOp(op({ collection: escapedName(repeat(utf8('b'), 255)) })).collection, 'b'.repeat(255));
  });

  it('should reject an empty collection name (escape form, length 0)', () => {
    rejectOp(op({ collection: escapedName([]) }));
  });

  it('should reject a collection name starting with NUL', () => {
    rejectOp(op({ collection: [0x00, ...name('bugs')] }));
  });

  it('should reject a NUL inside a collection name', () => {
    rejectOp(op({ collection: [0x62, 0x00, 0xf3] })); // 'b', NUL, marked 's'
  });

  it('should reject a collection name ending in a marked NUL', () => {
    rejectOp(op({ collection: [0x62, 0x80] })); // 'b', then 0x80 = NUL with the end mark
  });

  it('should reject a short collection name of 256 bytes', () => {
    rejectOp(op({ collection: name('b'.repeat(256)) })); // no end mark within the first 255 bytes
  });

  it('should reject a collection name never terminated before the input ends', () => {
    rejectOp(bytes(op({ collection: [], record: [], fields: [] }), utf8('bugs'))); // no byte >= 0x80
  });

  it('should reject an escaped collection name of 256 bytes', () => {
    rejectOp(op({ collection: escapedName(repeat(utf8('b'), 256)) }));
  });

  it('should reject invalid UTF-8 in an escaped collection name', () => {
    rejectOp(op({ collection: escapedName([0xc3, 0x28]) }));
  });

  it('should reject an encoded lone surrogate in an escaped collection name', () => {
    rejectOp(op({ collection: escapedName([0xed, 0xa0, 0x80]) }));
  });

  it('should reject a NUL inside an escaped collection name', () => {
    rejectOp(op({ collection: escapedName(utf8('b\0ügs')) }));
  });

  it("should reject the collection name '__proto__', short or escaped", () => {
    rejectOp(op({ collection: name('__proto__') }));
    rejectOp(op({ collection: escapedName(utf8('__proto__')) }));
  });

  it('should reject an escaped collection name length of 2^31', () => {
    rejectOp(op({ collection: [0x80, ...LEN_2_31, ...utf8('bugs')] }));
  });

  it('should reject an empty UTF-8 record id', () => {
    rejectOp(op({ record: [0x00] }));
  });

  it('should reject a UTF-8 record id of 256 bytes, past the validator bound', () => {
    assert.equal(decodeOp(op({ record: [...uvarint(255), ...repeat(utf8('r'), 255)] })).record, 'r'.repeat(255));
    rejectOp(op({ record: [...uvarint(256), ...repeat(utf8('r'), 256)] }));
  });

  it('should reject invalid UTF-8 in a record id', () => {
    rejectOp(op({ record: [0x03, 0xed, 0xa0, 0x80] }));
  });

  it('should reject record id form 3', () => {
    rejectOp(op({ header: [0x2d] })); // id form bits 11
  });

  it('should reject a hex record id of length 0', () => {
    rejectOp(op({ header: [0x29], record: [0x00] })); // form 2, byte length 0
  });

  it('should reject a hex record id of length 16 (that is form 1)', () => {
    rejectOp(op({ header: [0x29], record: [0x10, ...repeat([0xab], 16)] }));
  });

  it('should reject a hex record id of length 128, past the 127 limit', () => {
    rejectOp(op({ header: [0x29], record: [...uvarint(128), ...repeat([0xab], 128)] }));
  });

  it('should reject a hex record id of length 200', () => {
    rejectOp(op({ header: [0x29], record: [...uvarint(200), ...repeat([0xab], 200)] }));
  });

  it('should reject a 16-byte record id cut short', () => {
    rejectOp(op({ header: [0x05], record: repeat([0xab], 15), fields: [] })); // update, form 1, no fields
  });

  it('should reject an empty field name', () => {
    rejectOp(op({ fields: [...escapedName([]), 0x05] }));
  });

  it('should reject a field name that is a lone NUL', () => {
    rejectOp(op({ fields: [0x00, 0x05] }));
  });

  it("should reject the field name '__proto__', which would set a record view's prototype", () => {
    rejectOp(op({ fields: [...name('__proto__'), 0x4b, 0x01, 0x07, ...utf8('isAdmin'), 0x42] })); // {isAdmin: true}
  });

  it('should reject a field name with no field op after it', () => {
    rejectOp(op({ fields: [...name('x')] }));
  });

  it('should reject every unknown field op tag 0x85-0xff', () => {
    // The tag is the op's last byte: 0x84 (unset) would decode there, an unknown tag must not.
    assert.equal(decodeOp(op({ fields: [...name('x'), 0x84] })).fields[0]?.type, 'unset');
    for (let tag = 0x85; tag <= 0xff; tag++) rejectOp(op({ fields: [...name('x'), tag] }));
  });

  it('should reject an unset carrying a value', () => {
    rejectOp(op({ fields: [...name('x'), 0x84, 0x05] })); // unset has no body: 0x05 is a trailing byte
  });

  it('should reject an unknown value tag as a set value', () => {
    rejectOp(op({ fields: [...name('x'), 0x4c] }));
  });

  it('should reject a set value nested deeper than 64', () => {
    rejectOp(op({ fields: [...name('x'), ...repeat([0x4a, 0x01], 100), 0x40] }));
  });

  it('should reject an mvset with an observed dot of sequence number 0', () => {
    rejectOp(op({ fields: [...name('x'), 0x80, 0x01, ...NODE, 0x00, 0x05] })); // mvset, 1 dot (node, seq 0), 5
  });

  it('should reject a remove with an observed dot count of 2^31', () => {
    rejectOp(op({ fields: [...name('x'), 0x83, ...LEN_2_31, ...NODE, 0x01, 0x05] }));
  });

  it('should reject an add with no value', () => {
    rejectOp(op({ fields: [...name('x'), 0x82] }));
  });

  it('should reject an inc delta beyond the safe integer range', () => {
    rejectOp(op({ fields: [...name('x'), 0x81, ...svarint(2n ** 60n)] }));
  });

  it('should reject a trailing byte after a valid op', () => {
    rejectOp(bytes(op(), 0x00));
  });

  it('should reject every truncation of a valid op', () => {
    const valid = op({ header: [0x31], counter: [0x07] });
    for (let n = 0; n < valid.length; n++) rejectOp(valid.subarray(0, n));
  });
});

describe('BlazeBinary malformed batches', () => {
  it('should decode the valid batches the malformed cases are made from', () => {
    assert.deepEqual(decodeBatch(bytes(B, 0x00)), []);
    const ops = decodeBatch(batch([0x02], {}, {}));
    assert.equal(ops.length, 2);
    assert.deepEqual(
      ops.map((o) => [o.node, o.seq, o.wall, o.collection, o.record, o.fields]),
      [
        ['0123456789abcdef', 1, WALL_EPOCH_MS, 'bugs', 'a', [{ type: 'set', field: 'x', value: 5 }]],
        ['0123456789abcdef', 2, WALL_EPOCH_MS, 'bugs', 'a', [{ type: 'set', field: 'x', value: 6 }]],
      ],
    );
  });

  it('should reject empty input', () => {
    rejectBatch(bytes());
  });

  it('should reject a version byte with no op count', () => {
    rejectBatch(bytes(B));
  });

  it('should reject format version 2 (0x22)', () => {
    rejectBatch(bytes(0x22, 0x00));
  });

  it('should reject format version 0 (0x02)', () => {
    rejectBatch(bytes(0x02, 0x00));
  });

  it('should reject an op payload byte given to decodeBatch', () => {
    rejectBatch(bytes(O, 0x00));
  });

  it('should reject a valid op given to decodeBatch', () => {
    rejectBatch(op());
  });

  it('should reject a valid batch given to decodeOp and decodeValue', () => {
    rejectOp(batch([0x01], {}));
    rejectValue(batch([0x01], {}));
  });

  it('should reject an op count of 2^31 with one op following', () => {
    rejectBatch(batch(LEN_2_31, {}));
  });

  it('should reject an op count larger than the ops given', () => {
    rejectBatch(batch([0x02], {}));
  });

  it('should reject an op count of 0 followed by an op', () => {
    rejectBatch(batch([0x00], {}));
  });

  it('should reject an op count varint longer than 8 bytes', () => {
    rejectBatch(bytes(B, repeat([0x80], 8), 0x00));
  });

  it('should reject a node index referring to a node not yet defined', () => {
    rejectBatch(batch([0x01], { node: [0x01] })); // first op names node 1
  });

  it('should reject a node index one past the nodes defined', () => {
    rejectBatch(batch([0x02], {}, { node: [0x02] }));
  });

  it('should reject a huge node index', () => {
    rejectBatch(batch([0x02], {}, { node: uvarint(2 ** 53 - 1) }));
  });

  it('should reject a name index referring to a name not yet defined', () => {
    rejectBatch(batch([0x01], { collection: [0x01] }));
  });

  it('should reject a field name index one past the names defined', () => {
    rejectBatch(batch([0x01], { fields: [0x02, 0x05] })); // only name 1 ('bugs') exists yet
  });

  it('should reject a record index referring to a record not yet defined', () => {
    rejectBatch(batch([0x01], { record: [0x01] }));
  });

  it('should reject an empty name literal', () => {
    rejectBatch(batch([0x01], { collection: [0x00, ...escapedName([])] }));
  });

  it('should reject invalid UTF-8 in a name literal', () => {
    rejectBatch(batch([0x01], { collection: [0x00, ...escapedName([0xed, 0xa0, 0x80])] }));
  });

  it('should reject a NUL in a name literal', () => {
    rejectBatch(batch([0x01], { collection: [0x00, 0x62, 0x00, 0xf3] }));
  });

  it('should reject a name literal length of 2^31', () => {
    rejectBatch(batch([0x01], { collection: [0x00, 0x80, ...LEN_2_31, ...utf8('bugs')] }));
  });

  it('should reject a sequence gap that makes the sequence number 0', () => {
    rejectBatch(batch([0x01], { seq: svarint(-1) }));
  });

  it('should reject a sequence gap that goes past 2^53 - 1', () => {
    // First op: seq 2^53 - 1; second op of the same node: seq 2^53.
    rejectBatch(batch([0x02], { seq: svarint(2 ** 53 - 2) }, {}));
  });

  it('should reject a wall delta that goes before 1970', () => {
    rejectBatch(batch([0x01], { wall: svarint(-WALL_EPOCH_MS - 1) }));
  });

  it('should reject wall deltas that add up past 8.64e15', () => {
    rejectBatch(batch([0x02], { wall: svarint(MAX_DATE_MS - WALL_EPOCH_MS) }, { wall: svarint(1) }));
  });

  it('should reject op kind 3 in a batch', () => {
    rejectBatch(batch([0x02], {}, { header: [0x23] }));
  });

  it('should reject a delete op carrying a field in a batch', () => {
    rejectBatch(batch([0x01], { header: [0x22] }));
  });

  it('should reject a flagged zero counter in a batch', () => {
    rejectBatch(batch([0x01], { header: [0x31], counter: [0x00] }));
  });

  it("should reject a name literal '__proto__' in a batch", () => {
    rejectBatch(batch([0x01], { fields: [0x00, ...name('__proto__'), 0x05] }));
  });

  it('should reject a literal record id with form 3 in a batch', () => {
    rejectBatch(batch([0x01], { header: [0x2d] }));
  });

  it('should reject record id form 3 in the header of an op whose record is interned', () => {
    rejectBatch(batch([0x02], {}, { header: [0x2d] })); // second op: form bits 11, record index 1
  });

  it('should reject a hex record id literal of length 16 in a batch', () => {
    rejectBatch(batch([0x01], { header: [0x29], record: [0x00, 0x10, ...repeat([0xab], 16)] }));
  });

  it('should reject a trailing byte after a valid batch', () => {
    rejectBatch(bytes(batch([0x02], {}, {}), 0x00));
  });

  it('should reject every truncation of a valid batch', () => {
    const valid = batch([0x02], { header: [0x31], counter: [0x03] }, {});
    for (let n = 0; n < valid.length; n++) rejectBatch(valid.subarray(0, n));
  });
});

describe('LZ4 blocks, malformed', () => {
  const text = new TextEncoder().encode('the quick brown fox jumps over the lazy dog; '.repeat(20));
  const block = compressBlock(text);
  const rejectBlock = (input: Uint8Array, maxBytes = 1 << 20) =>
    assertDecodeError(() => decompressBlock(input, maxBytes), `decompressBlock(${hex(input).slice(0, 80)})`);

  it('should decompress the valid block the malformed cases are made from', () => {
    assert.deepEqual(decompressBlock(block, 1 << 20), text);
    assert.equal(block[0]! | (block[1]! << 8), text.length); // 4-byte little-endian size prefix
  });

  it('should reject a size prefix of 2^31 against a 1 MiB limit', () => {
    rejectBlock(bytes(0x00, 0x00, 0x00, 0x80, 0x11, 0x22, 0x33));
  });

  it('should reject a size prefix of 2^31 even with no limit, as more than the block can hold', () => {
    rejectBlock(bytes(0x00, 0x00, 0x00, 0x80, 0x11, 0x22, 0x33), 2 ** 32);
  });

  it('should reject a size prefix of 2^32 - 1', () => {
    rejectBlock(bytes(0xff, 0xff, 0xff, 0xff, 0x00), 2 ** 32);
  });

  it('should reject a size prefix larger than 255x the block', () => {
    rejectBlock(bytes(0x00, 0x10, 0x00, 0x00, 0x1f, 0x61, 0x01, 0x00)); // claims 4096 bytes from 4
  });

  it('should reject a size just over the caller limit', () => {
    rejectBlock(block, text.length - 1);
  });

  it('should reject null, undefined, an array or a Uint16Array given to decompressBlock', () => {
    const asArray = Array.from(block); // the right bytes, but not a Uint8Array
    for (const arg of [null, undefined, 'abcdefgh', asArray, new Uint16Array(asArray)]) {
      const label = `decompressBlock(${Object.prototype.toString.call(arg)})`;
      assertDecodeError(() => decompressBlock(arg as unknown as Uint8Array, 1 << 20), label);
    }
  });

  it('should reject a garbage block', () => {
    rejectBlock(bytes(0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff));
  });

  it('should reject a block with a size prefix and nothing after it', () => {
    rejectBlock(bytes(0x05, 0x00, 0x00, 0x00));
  });

  it('should reject a block shorter than its 4-byte size prefix', () => {
    rejectBlock(bytes());
    rejectBlock(bytes(0x01));
    rejectBlock(bytes(0x01, 0x00, 0x00));
  });

  it('should reject a size prefix one more than the data decompresses to', () => {
    const wrong = block.slice();
    wrong[0] = wrong[0]! + 1;
    rejectBlock(wrong);
  });

  it('should reject a size prefix one less than the data decompresses to', () => {
    const wrong = block.slice();
    wrong[0] = wrong[0]! - 1;
    rejectBlock(wrong);
  });

  it('should reject a match offset pointing before the start of the output', () => {
    // Token 0x10: 1 literal, match of 4; literal 'a'; offset 0x0005 (only 1 byte written so far).
    rejectBlock(bytes(0x05, 0x00, 0x00, 0x00, 0x10, 0x61, 0x05, 0x00));
  });

  it('should reject every truncation of a valid block', () => {
    for (let n = 0; n < block.length; n++) rejectBlock(block.subarray(0, n));
  });
});

/**
 * lz4-wasm's linear memory, through the `__wasm` export wasm-bindgen's Node build adds (undefined
 * if a later build drops it). It only ever grows, so a forged size that reached the
 * decompressor would leave it larger for good.
 */
const lz4Memory = (lz4 as { __wasm?: { memory?: { buffer: ArrayBuffer } } }).__wasm?.memory;
const lz4MemoryBytes = (): number => lz4Memory?.buffer.byteLength ?? 0;

describe('BlazeBinary length claims do not allocate', () => {
  it('should reject huge length claims straight away, without allocating their size', (t) => {
    if (lz4Memory === undefined) t.diagnostic('lz4-wasm-nodejs no longer exposes __wasm.memory: its growth is not checked');
    const forgedBlock = (size: number) => bytes(size & 0xff, (size >>> 8) & 0xff, (size >>> 16) & 0xff, size >>> 24, 0x11, 0x22, 0x33);
    const claims: [string, () => unknown][] = [
      ['string', () => decodeValue(bytes(V, 0x46, LEN_2_31, utf8('abc')))],
      ['bytes', () => decodeValue(bytes(V, 0x47, LEN_2_31, 0x01, 0x02))],
      ['array', () => decodeValue(bytes(V, 0x4a, LEN_2_31, 0x01, 0x02))],
      ['map', () => decodeValue(bytes(V, 0x4b, LEN_2_31, 0x01, utf8('a'), 0x01))],
      ['batch op count', () => decodeBatch(batch(LEN_2_31, {}))],
      ['op field count', () => decodeOp(op({ header: [0xe1], fieldCount: LEN_2_31 }))],
      ['observed dots', () => decodeOp(op({ fields: [...name('x'), 0x80, ...LEN_2_31, ...NODE, 0x01, 0x05] }))],
      ['escaped name', () => decodeOp(op({ collection: [0x80, ...LEN_2_31, ...utf8('bugs')] }))],
      ['lz4 size 2^31, 1 MiB limit', () => decompressBlock(forgedBlock(2 ** 31), 1 << 20)],
      ['lz4 size 2^31, no limit', () => decompressBlock(forgedBlock(2 ** 31), 2 ** 32)],
      ['lz4 size 2^28, no limit', () => decompressBlock(forgedBlock(2 ** 28), 2 ** 32)],
    ];
    // Measured after every decode, before the collector could free anything: a single 2 GiB
    // buffer (even one dropped at once) would show up here; the decoders' own few bytes do not.
    const buffersBefore = process.memoryUsage().arrayBuffers;
    const wasmBefore = lz4MemoryBytes();
    let grown = 0;
    for (let round = 0; round < 3; round++) {
      for (const [what, decode] of claims) {
        assertDecodeError(decode, what);
        grown = Math.max(grown, process.memoryUsage().arrayBuffers - buffersBefore);
        const wasmGrown = lz4MemoryBytes() - wasmBefore;
        assert.ok(wasmGrown < 16 * 2 ** 20, `${what}: lz4's wasm memory grew by ${(wasmGrown / 2 ** 20).toFixed(1)} MiB`);
      }
    }
    assert.ok(grown < 64 * 2 ** 20, `array buffers grew by ${(grown / 2 ** 20).toFixed(1)} MiB while rejecting length claims`);
  });
});

// ---- properties ----

/** Tags, lengths, varint and UTF-8 lead bytes that take a decoder somewhere interesting. */
// biome-ignore format: a table
const INTERESTING_BYTES = [
  0x00, 0x01, 0x02, 0x05, 0x10, 0x21, 0x3f, 0x40, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c,
  0x61, 0x7f, 0x80, 0x81, 0x82, 0x83, 0xc3, 0xed, 0xf3, 0xff,
];

/** Random bytes biased towards the interesting ones. */
const noiseArb = fc
  .array(fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...INTERESTING_BYTES)), { maxLength: 200 })
  .map((b) => Uint8Array.from(b));

/** Random bytes, mostly behind the right payload byte so the decoder reads past it. */
function randomInputArb(first: number): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc.uint8Array({ maxLength: 200 }).map((b) => bytes(first, b)),
    noiseArb.map((b) => bytes(first, b)),
  );
}

type Mutation =
  | { type: 'flip'; at: number; bit: number }
  | { type: 'truncate'; at: number }
  | { type: 'insert'; at: number; bytes: Uint8Array }
  | { type: 'delete'; at: number; count: number }
  | { type: 'overwrite'; at: number; bytes: Uint8Array }
  | { type: 'tail'; at: number; bytes: Uint8Array };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ type: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ type: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ type: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
  fc.record({ type: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({
    type: fc.constant('overwrite' as const),
    at: fc.nat(),
    bytes: fc.tuple(fc.constantFrom(0xff, 0x80), fc.integer({ min: 1, max: 9 })).map(([b, n]) => new Uint8Array(n).fill(b)),
  }),
  // Cut at a random point and go on with random bytes: reaches deep with junk.
  fc.record({ type: fc.constant('tail' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 40 }) }),
);

/** Applies the mutations in order; positions wrap around the current length. */
function mutate(input: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let b = [...input];
  for (const m of mutations) {
    const at = m.at % (b.length + 1);
    switch (m.type) {
      case 'flip':
        if (at < b.length) b[at] = b[at]! ^ (1 << m.bit);
        break;
      case 'truncate':
        b = b.slice(0, at);
        break;
      case 'insert':
        b.splice(at, 0, ...m.bytes);
        break;
      case 'delete':
        b.splice(at, m.count);
        break;
      case 'overwrite':
        for (let i = 0; i < m.bytes.length && at + i < b.length; i++) b[at + i] = m.bytes[i]!;
        break;
      case 'tail':
        b = [...b.slice(0, at), ...m.bytes];
        break;
    }
  }
  return Uint8Array.from(b);
}

/** Mutates all but the payload byte: a wrong first byte fails at once and is in the corpus. */
function mutateBody(valid: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  return bytes(valid[0]!, mutate(valid.subarray(1), mutations));
}

const mutationsArb = fc.array(mutationArb, { minLength: 1, maxLength: 3 });

/**
 * Whatever a mutant decodes to is well-formed data: it encodes, and its encoding decodes back
 * to the same bytes (encode . decode is the identity on canonical encodings).
 */
function assertStableReencoding<T>(decoded: T, encode: (x: T) => Uint8Array, decode: (b: Uint8Array) => T): void {
  const canonical = encode(decoded);
  assert.deepEqual(encode(decode(canonical)), canonical, 'decoded data changed on re-encoding');
}

describe('BlazeBinary decoders on random and mutated bytes', () => {
  it('should throw only DecodeError on random bytes (values)', () => {
    checkProperty(
      'random bytes to decodeValue',
      fc.property(randomInputArb(V), (input) => {
        decodeOrDecodeError(() => decodeValue(input), `decodeValue(${hex(input)})`);
      }),
      { numRuns: 1000 },
    );
  });

  it('should throw only DecodeError on random bytes (ops)', () => {
    checkProperty(
      'random bytes to decodeOp',
      fc.property(randomInputArb(O), (input) => {
        decodeOrDecodeError(() => decodeOp(input), `decodeOp(${hex(input)})`);
      }),
      { numRuns: 1000 },
    );
  });

  it('should throw only DecodeError on random bytes (batches)', () => {
    checkProperty(
      'random bytes to decodeBatch',
      fc.property(randomInputArb(B), (input) => {
        decodeOrDecodeError(() => decodeBatch(input), `decodeBatch(${hex(input)})`);
      }),
      { numRuns: 1000 },
    );
  });

  it('should decode a mutated value encoding or throw only DecodeError', () => {
    checkProperty(
      'mutated value',
      fc.property(valueArb, mutationsArb, (value, mutations) => {
        const input = mutateBody(encodeValue(value), mutations);
        const decoded = decodeOrDecodeError(() => decodeValue(input), `decodeValue(${hex(input)})`);
        if (decoded !== undefined) assertStableReencoding(decoded, encodeValue, decodeValue);
      }),
      { numRuns: 1000 },
    );
  });

  it('should decode a mutated op encoding or throw only DecodeError', () => {
    checkProperty(
      'mutated op',
      fc.property(opArb, mutationsArb, (original, mutations) => {
        const input = mutateBody(encodeOp(original), mutations);
        const decoded = decodeOrDecodeError(() => decodeOp(input), `decodeOp(${hex(input)})`);
        if (decoded !== undefined) assertStableReencoding(decoded, encodeOp, decodeOp);
      }),
      { numRuns: 800 },
    );
  });

  it('should decode a mutated batch encoding or throw only DecodeError', () => {
    checkProperty(
      'mutated batch',
      fc.property(fc.array(opArb, { maxLength: 5 }), mutationsArb, (ops, mutations) => {
        const input = mutateBody(encodeBatch(ops), mutations);
        const decoded = decodeOrDecodeError(() => decodeBatch(input), `decodeBatch(${hex(input)})`);
        if (decoded !== undefined) assertStableReencoding<readonly Op[]>(decoded, encodeBatch, decodeBatch);
      }),
      { numRuns: 400 },
    );
  });

  it('should reject any strict prefix of, and any byte appended to, a valid encoding', () => {
    // Encodings are self-delimiting: a prefix that decoded would make the whole input have
    // trailing bytes. So every cut is an error, as is every extra byte.
    checkProperty(
      'truncated or extended valid encoding',
      fc.property(
        fc.oneof(
          valueArb.map((v) => [encodeValue(v), decodeValue] as const),
          opArb.map((o) => [encodeOp(o), decodeOp] as const),
          fc.array(opArb, { maxLength: 4 }).map((ops) => [encodeBatch(ops), decodeBatch] as const),
        ),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        ([valid, decode], cut, extra) => {
          const prefix = valid.subarray(0, cut % valid.length);
          assertDecodeError(() => decode(prefix), `prefix ${hex(prefix)}`);
          const extended = bytes(valid, extra);
          assertDecodeError(() => decode(extended), `extended ${hex(extended)}`);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('should decompress a random or mutated LZ4 block to its claimed size or throw only DecodeError', () => {
    checkProperty(
      'random or mutated lz4 block',
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 100 }),
          fc.tuple(fc.integer({ min: 0, max: 400 }), fc.uint8Array({ maxLength: 100 })).map(([n, b]) => bytes(n & 0xff, n >> 8, 0, 0, b)),
          fc.tuple(fc.uint8Array({ maxLength: 300 }), mutationsArb).map(([data, m]) => mutate(compressBlock(data), m)),
        ),
        (input) => {
          const out = decodeOrDecodeError(() => decompressBlock(input, 1 << 20), `decompressBlock(${hex(input)})`);
          if (out !== undefined) {
            const claimed = (input[0]! | (input[1]! << 8) | (input[2]! << 16) | (input[3]! << 24)) >>> 0;
            assert.equal(out.length, claimed, 'decompressed to a size other than the claimed one');
          }
        },
      ),
      { numRuns: 800 },
    );
  });

  it('should round-trip version vectors and refuse malformed ones with DecodeError', () => {
    const vector = new Map([
      ['0123456789abcdef', 1],
      ['fedcba9876543210', 2 ** 40],
    ]) as Map<NodeId, number>;
    const encoded = encodeVersionVector(vector);
    assert.deepEqual(decodeVersionVector(encoded), vector);
    assert.equal(encoded.length, 1 + 1 + 2 * 8 + 1 + 6);
    assert.deepEqual(decodeVersionVector(encodeVersionVector(new Map())), new Map());
    const reject = (input: Uint8Array) => assertDecodeError(() => decodeVersionVector(input), `decodeVersionVector(${hex(input)})`);
    reject(bytes());
    reject(bytes(V, 0)); // another payload kind
    reject(bytes(0x23, 0)); // another format version
    reject(bytes(0x13, 2, NODE, 1)); // count beyond the bytes
    reject(bytes(0x13, LEN_2_31)); // a huge count claim
    reject(bytes(0x13, 2, NODE, 1, NODE, 2)); // an origin twice
    reject(bytes(0x13, 1, NODE, 1, 0)); // trailing byte
    reject(bytes(0x13, 1, NODE.slice(0, 5))); // truncated id
  });
});
