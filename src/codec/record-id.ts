/**
 * Record ids are strings, but the common shapes travel as bytes: a default 128-bit id
 * (32 lowercase hex chars) costs 16 bytes on the wire, not 33.
 */
import { isLowerHex, toHex, writeHex } from '../util/hex.ts';
import { ID_HEX, ID_HEX16, ID_UTF8 } from './constants.ts';
import { type Decoder, readLength, readUtf8, readVarUint } from './decoder.ts';
import { type Encoder, writeString, writeVarUint } from './encoder.ts';

const MAX_HEX_ID_BYTES = 127;
/** The validator's bound on record ids (MAX_RECORD_ID_BYTES), enforced on decode too. */
const MAX_UTF8_ID_BYTES = 255;

export function recordIdForm(id: string): number {
  if (id.length === 32 && isLowerHex(id)) return ID_HEX16;
  if (id.length <= MAX_HEX_ID_BYTES * 2 && isLowerHex(id)) return ID_HEX;
  return ID_UTF8;
}

export function writeRecordIdBody(e: Encoder, id: string, form: number): void {
  if (form === ID_UTF8) {
    writeString(e, id);
    return;
  }
  const n = id.length >> 1;
  if (form === ID_HEX) writeVarUint(e, n);
  e.ensure(n);
  writeHex(id, e.buf, e.pos);
  e.pos += n;
}

export function readRecordIdBody(d: Decoder, form: number): string {
  if (form === ID_UTF8) {
    const n = readLength(d);
    if (n === 0 || n > MAX_UTF8_ID_BYTES) d.fail(`record id length ${n} outside 1..${MAX_UTF8_ID_BYTES}`);
    return readUtf8(d, n);
  }
  let n = 16;
  if (form === ID_HEX) {
    n = readVarUint(d);
    if (n === 0 || n > MAX_HEX_ID_BYTES || n === 16) d.fail(`bad hex record id length ${n}`);
  } else if (form !== ID_HEX16) {
    d.fail(`unknown record id form ${form}`);
  }
  d.need(n);
  const id = toHex(d.buf, d.pos, d.pos + n);
  d.pos += n;
  return id;
}
