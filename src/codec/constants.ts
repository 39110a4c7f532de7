/**
 * BlazeBinary format constants. The byte layout is specified in docs/blazebinary.md; any
 * change here is a format change and needs a new version byte.
 */

/** Format version 1. The first byte of every top-level encoding is version << 4 | payload kind. */
export const FORMAT_VERSION = 1;
export const PAYLOAD_VALUE = 0x10;
export const PAYLOAD_OP = 0x11;
export const PAYLOAD_BATCH = 0x12;
export const PAYLOAD_VERSION = 0x13;

/** Standalone HLC wall times are written relative to 2025-01-01T00:00:00Z: 6 bytes until about 2094. */
export const WALL_EPOCH_MS = 1_735_689_600_000;

// Value tags. 0x00-0x3f: non-negative integers 0..63 in the tag itself.
export const TAG_FIXINT_MAX = 0x3f;
export const TAG_NULL = 0x40;
export const TAG_FALSE = 0x41;
export const TAG_TRUE = 0x42;
export const TAG_INT = 0x43; // zigzag varint, safe integer
export const TAG_INT64 = 0x44; // zigzag varint, bigint
export const TAG_FLOAT64 = 0x45; // 8 bytes little-endian
export const TAG_STRING = 0x46; // varint length + UTF-8
export const TAG_BYTES = 0x47; // varint length + bytes
export const TAG_TIMESTAMP = 0x48; // zigzag varint ms since the Unix epoch
export const TAG_REF = 0x49; // collection string + record id (form byte + body)
export const TAG_ARRAY = 0x4a; // varint count + values
export const TAG_MAP = 0x4b; // varint count + (string key, value) pairs, keys sorted
// 0x60-0x7f: strings of 0..31 UTF-8 bytes, length in the tag.
export const TAG_FIXSTR = 0x60;
export const FIXSTR_MAX = 0x1f;

// Field op tags. A value tag (< 0x80) in field position means 'set' (LWW) to that value.
export const TAG_OP_MVSET = 0x80;
export const TAG_OP_INC = 0x81;
export const TAG_OP_ADD = 0x82;
export const TAG_OP_REMOVE = 0x83;
export const TAG_OP_UNSET = 0x84;

// Record id forms (2 bits in the op header, a byte in a ref value).
export const ID_UTF8 = 0; // varint length + UTF-8
export const ID_HEX16 = 1; // 32 lowercase hex chars as 16 raw bytes (the default id shape)
export const ID_HEX = 2; // other even-length lowercase hex: varint byte length + raw bytes

/** Deepest array/map nesting a decoder accepts (the validator's bound too). */
export const MAX_DEPTH = 64;
/** Largest Date the JavaScript Date type can hold, in ms either side of the epoch. */
export const MAX_DATE_MS = 8.64e15;
