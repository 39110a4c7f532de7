/**
 * A total order over values, used to sort query results and to compare in range conditions.
 * Kinds rank null < boolean < number < string < bytes < timestamp < record ref < array < map;
 * numbers (integers, floats and int64 bigints) compare by numeric value, strings by Unicode
 * code point (the order their UTF-8 index keys sort in).
 */
import { RecordRef, type Value, type ValueMap } from '../values/value.ts';

export const Rank = { Null: 0, Boolean: 1, Number: 2, String: 3, Bytes: 4, Timestamp: 5, Ref: 6, Array: 7, Map: 8 } as const;
export type Rank = (typeof Rank)[keyof typeof Rank];

export function rankOf(v: Value): Rank {
  switch (typeof v) {
    case 'boolean':
      return Rank.Boolean;
    case 'number':
    case 'bigint':
      return Rank.Number;
    case 'string':
      return Rank.String;
  }
  if (v === null) return Rank.Null;
  if (v instanceof Uint8Array) return Rank.Bytes;
  if (v instanceof Date) return Rank.Timestamp;
  if (v instanceof RecordRef) return Rank.Ref;
  return Array.isArray(v) ? Rank.Array : Rank.Map;
}

function compareNumbers(a: number | bigint, b: number | bigint): number {
  if (typeof a === typeof b) return a < b ? -1 : a > b ? 1 : 0;
  // One bigint, one number: compare exactly where the number is an integer.
  const [big, num, sign] = typeof a === 'bigint' ? [a, b as number, 1] : [b as bigint, a as number, -1];
  if (Number.isInteger(num)) {
    const n = BigInt(num);
    return sign * (big < n ? -1 : big > n ? 1 : 0);
  }
  const f = Number(big);
  return sign * (f < num ? -1 : f > num ? 1 : 0);
}

/** Code point order (UTF-16 order differs for astral characters vs U+E000-U+FFFF). */
export function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (0xD800-0xDFFF) encode code points above 0xFFFF: they sort after 0xE000-0xFFFF.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

function compareBytesValues(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

export function compareValues(a: Value, b: Value): number {
  const ra = rankOf(a);
  const rb = rankOf(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case Rank.Null:
      return 0;
    case Rank.Boolean:
      return Number(a) - Number(b);
    case Rank.Number:
      return compareNumbers(a as number | bigint, b as number | bigint);
    case Rank.String:
      return compareStrings(a as string, b as string);
    case Rank.Bytes:
      return compareBytesValues(a as Uint8Array, b as Uint8Array);
    case Rank.Timestamp:
      return (a as Date).getTime() - (b as Date).getTime();
    case Rank.Ref: {
      const x = a as RecordRef;
      const y = b as RecordRef;
      return compareStrings(x.collection, y.collection) || compareStrings(x.id, y.id);
    }
    case Rank.Array: {
      const x = a as readonly Value[];
      const y = b as readonly Value[];
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) {
        const c = compareValues(x[i] as Value, y[i] as Value);
        if (c !== 0) return c;
      }
      return x.length - y.length;
    }
    default: {
      const x = a as ValueMap;
      const y = b as ValueMap;
      const kx = Object.keys(x).sort(compareStrings);
      const ky = Object.keys(y).sort(compareStrings);
      const n = Math.min(kx.length, ky.length);
      for (let i = 0; i < n; i++) {
        const c =
          compareStrings(kx[i] as string, ky[i] as string) || compareValues(x[kx[i] as string] as Value, y[ky[i] as string] as Value);
        if (c !== 0) return c;
      }
      return kx.length - ky.length;
    }
  }
}
