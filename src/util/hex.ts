/** Lowercase hex conversion, table-driven because record and node ids go through it on hot paths. */

const BYTE_TO_HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function toHex(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let out = '';
  for (let i = start; i < end; i++) out += BYTE_TO_HEX[bytes[i] as number];
  return out;
}

function nibble(code: number): number {
  if (code >= 48 && code <= 57) return code - 48; // 0-9
  if (code >= 97 && code <= 102) return code - 87; // a-f
  return -1;
}

/** True for a non-empty, even-length string of lowercase hex digits. */
export function isLowerHex(s: string): boolean {
  if (s.length === 0 || s.length % 2 !== 0) return false;
  for (let i = 0; i < s.length; i++) if (nibble(s.charCodeAt(i)) < 0) return false;
  return true;
}

/** Writes the bytes of lowercase hex `s` into `out` at `offset`. The caller checked `isLowerHex`. */
export function writeHex(s: string, out: Uint8Array, offset: number): void {
  for (let i = 0, j = offset; i < s.length; i += 2, j++) {
    out[j] = (nibble(s.charCodeAt(i)) << 4) | nibble(s.charCodeAt(i + 1));
  }
}

export function fromHex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  writeHex(s, out, 0);
  return out;
}
