/**
 * BlazeBinary encoding of field values: a tag byte, then the body. Small integers and short
 * strings live in the tag itself. Map keys are written sorted, so equal values have equal bytes
 * (set elements are keyed by their encoding).
 */
import { ValidationError } from '../errors.ts';
import { isPlainObject, RecordRef, type Value, type ValueMap } from '../values/value.ts';
import {
  FIXSTR_MAX,
  MAX_DATE_MS,
  MAX_DEPTH,
  TAG_ARRAY,
  TAG_BYTES,
  TAG_FALSE,
  TAG_FIXINT_MAX,
  TAG_FIXSTR,
  TAG_FLOAT64,
  TAG_INT,
  TAG_INT64,
  TAG_MAP,
  TAG_NULL,
  TAG_REF,
  TAG_STRING,
  TAG_TIMESTAMP,
  TAG_TRUE,
} from './constants.ts';
import { type Decoder, readBigVarInt, readByte, readLength, readRaw, readString, readUtf8, readVarInt } from './decoder.ts';
import { type Encoder, writeBigVarInt, writeByte, writeBytes, writeString, writeUtf8Body, writeVarInt, writeVarUint } from './encoder.ts';
import { readName, writeName } from './name.ts';
import { readRecordIdBody, recordIdForm, writeRecordIdBody } from './record-id.ts';

export function writeValue(e: Encoder, v: Value): void {
  switch (typeof v) {
    case 'number':
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) {
        if (v >= 0 && v <= TAG_FIXINT_MAX) {
          writeByte(e, v);
        } else {
          writeByte(e, TAG_INT);
          writeVarInt(e, v);
        }
      } else {
        writeByte(e, TAG_FLOAT64);
        e.float64(v);
      }
      return;
    case 'string':
      writeStringValue(e, v);
      return;
    case 'boolean':
      writeByte(e, v ? TAG_TRUE : TAG_FALSE);
      return;
    case 'bigint':
      writeByte(e, TAG_INT64);
      writeBigVarInt(e, v);
      return;
  }
  if (v === null) {
    writeByte(e, TAG_NULL);
  } else if (v instanceof Uint8Array) {
    writeByte(e, TAG_BYTES);
    writeBytes(e, v);
  } else if (v instanceof Date) {
    writeByte(e, TAG_TIMESTAMP);
    writeVarInt(e, v.getTime());
  } else if (v instanceof RecordRef) {
    writeByte(e, TAG_REF);
    writeName(e, v.collection);
    const form = recordIdForm(v.id);
    writeByte(e, form);
    writeRecordIdBody(e, v.id, form);
  } else if (Array.isArray(v)) {
    writeByte(e, TAG_ARRAY);
    writeVarUint(e, v.length);
    for (const item of v) writeValue(e, item);
  } else if (typeof v === 'object' && isPlainObject(v)) {
    const map = v as ValueMap;
    const keys = Object.keys(map).sort();
    writeByte(e, TAG_MAP);
    writeVarUint(e, keys.length);
    for (const key of keys) {
      writeString(e, key);
      writeValue(e, map[key] as Value);
    }
  } else {
    throw new ValidationError('', `cannot encode ${typeof v}: validate values before encoding`);
  }
}

function writeStringValue(e: Encoder, s: string): void {
  // Fast path: short ASCII goes in a fixstr tag with no length byte.
  if (s.length <= FIXSTR_MAX) {
    e.ensure(1 + s.length);
    const buf = e.buf;
    const start = e.pos + 1;
    let i = 0;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[start + i] = c;
    }
    if (i === s.length) {
      buf[e.pos] = TAG_FIXSTR | s.length;
      e.pos = start + s.length;
      return;
    }
  }
  const n = Buffer.byteLength(s, 'utf8');
  if (n <= FIXSTR_MAX) {
    writeByte(e, TAG_FIXSTR | n);
    writeUtf8Body(e, s);
    return;
  }
  writeByte(e, TAG_STRING);
  writeString(e, s);
}

export function readValue(d: Decoder, depth = 0): Value {
  return readValueWithTag(d, readByte(d), depth);
}

/** Decodes a value whose tag byte was already read (ops share the tag space with field ops). */
export function readValueWithTag(d: Decoder, tag: number, depth: number): Value {
  if (tag <= TAG_FIXINT_MAX) return tag;
  if (tag >= TAG_FIXSTR && tag <= TAG_FIXSTR + FIXSTR_MAX) return readUtf8(d, tag - TAG_FIXSTR);
  switch (tag) {
    case TAG_NULL:
      return null;
    case TAG_FALSE:
      return false;
    case TAG_TRUE:
      return true;
    case TAG_INT:
      return readVarInt(d);
    case TAG_INT64:
      return readBigVarInt(d);
    case TAG_FLOAT64: {
      const f = d.float64();
      if (!Number.isFinite(f)) d.fail('non-finite float');
      return f;
    }
    case TAG_STRING:
      return readString(d);
    case TAG_BYTES:
      return readRaw(d, readLength(d));
    case TAG_TIMESTAMP: {
      const ms = readVarInt(d);
      if (Math.abs(ms) > MAX_DATE_MS) d.fail('timestamp out of range');
      return new Date(ms);
    }
    case TAG_REF: {
      const collection = readName(d);
      const id = readRecordIdBody(d, readByte(d));
      return new RecordRef(collection, id);
    }
    case TAG_ARRAY: {
      if (depth >= MAX_DEPTH) d.fail(`nested deeper than ${MAX_DEPTH}`);
      const n = readLength(d);
      const out: Value[] = [];
      for (let i = 0; i < n; i++) out.push(readValue(d, depth + 1));
      return out;
    }
    case TAG_MAP: {
      if (depth >= MAX_DEPTH) d.fail(`nested deeper than ${MAX_DEPTH}`);
      const n = readLength(d, 2);
      const out: Record<string, Value> = {};
      for (let i = 0; i < n; i++) {
        const key = readString(d);
        if (key === '__proto__' || Object.hasOwn(out, key)) d.fail(`bad or repeated map key '${key}'`);
        out[key] = readValue(d, depth + 1);
      }
      return out;
    }
    default:
      return d.fail(`unknown value tag 0x${tag.toString(16)}`);
  }
}
