/**
 * Collection and field names. Nearly all are short ASCII identifiers, so they are written as
 * their characters with the high bit set on the last one: "bugs" takes 4 bytes, not 5.
 * Any other name is the escape byte 0x80 (a lone marked NUL, which no valid name is) followed by
 * a varint length and UTF-8. Names are non-empty, at most 255 UTF-8 bytes, and contain no NUL.
 */
import { type Decoder, readLength, readUtf8 } from './decoder.ts';
import { type Encoder, writeByte, writeString } from './encoder.ts';

const NAME_ESCAPE = 0x80;
const MAX_NAME_BYTES = 255;

export function writeName(e: Encoder, name: string): void {
  const n = name.length;
  if (n > 0 && n <= MAX_NAME_BYTES) {
    e.ensure(n);
    const buf = e.buf;
    const start = e.pos;
    let i = 0;
    for (; i < n; i++) {
      const c = name.charCodeAt(i);
      if (c === 0 || c >= 0x80) break;
      buf[start + i] = c;
    }
    if (i === n) {
      buf[start + n - 1] = (buf[start + n - 1] as number) | 0x80;
      e.pos = start + n;
      return;
    }
  }
  writeByte(e, NAME_ESCAPE);
  writeString(e, name);
}

export function readName(d: Decoder): string {
  const buf = d.buf;
  const start = d.pos;
  if (start < d.end && buf[start] === NAME_ESCAPE) {
    d.pos++;
    const n = readLength(d);
    if (n === 0 || n > MAX_NAME_BYTES) d.fail(`name length ${n} outside 1..${MAX_NAME_BYTES}`);
    return checkedName(d, readUtf8(d, n));
  }
  const limit = Math.min(d.end, start + MAX_NAME_BYTES);
  let s = '';
  for (let i = start; i < limit; i++) {
    const c = buf[i] as number;
    if (c >= 0x80) {
      const last = c & 0x7f;
      if (last === 0) d.fail('NUL in name');
      d.pos = i + 1;
      return checkedName(d, s + String.fromCharCode(last));
    }
    if (c === 0) d.fail('NUL in name');
    s += String.fromCharCode(c);
  }
  d.pos = limit;
  return d.fail(limit === d.end ? 'truncated name' : `name longer than ${MAX_NAME_BYTES} bytes`);
}

/** The rules validation applies to names, enforced on decode too: no NUL, not `__proto__`. */
function checkedName(d: Decoder, name: string): string {
  if (name === '__proto__') d.fail("the name '__proto__' is reserved");
  if (name.includes('\0')) d.fail('NUL in name');
  return name;
}
