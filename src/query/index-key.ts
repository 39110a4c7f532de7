/**
 * Order-preserving index keys: byte strings whose unsigned byte order is the value order of
 * `compareValues`, for scalar values. A rank byte leads, so each kind occupies its own range
 * and a range condition scans only its kind. Numbers (bigints too, rounded to the nearest
 * double) become sign-adjusted big-endian doubles; matches are always re-checked against the
 * record, so rounding only widens the candidates.
 */
import type { RecordRef, Value } from '../values/value.ts';
import { Rank, rankOf } from './compare.ts';

const utf8 = new TextEncoder();

/** The rank byte: ranks are spaced so a range [rank, rank + 1) holds exactly one kind. */
const rankByte = (rank: Rank) => 0x10 + rank;

function orderedDouble(x: number): Uint8Array {
  const out = new Uint8Array(9);
  const view = new DataView(out.buffer);
  view.setFloat64(1, x === 0 ? 0 : x); // -0 and 0 are the same key
  // Positive: flip the sign bit. Negative: flip every bit. Then bytes sort like numbers.
  if ((out[1] as number) & 0x80) for (let i = 1; i < 9; i++) out[i] = ~(out[i] as number) & 0xff;
  else out[1] = (out[1] as number) | 0x80;
  return out;
}

/** The index key of a scalar value, or undefined for arrays and maps (not indexed). */
export function indexKey(v: Value): Uint8Array | undefined {
  const rank = rankOf(v);
  let key: Uint8Array;
  switch (rank) {
    case Rank.Null:
      return Uint8Array.of(rankByte(rank));
    case Rank.Boolean:
      return Uint8Array.of(rankByte(rank), v ? 1 : 0);
    case Rank.Number:
      key = orderedDouble(Number(v as number | bigint));
      break;
    case Rank.Timestamp:
      key = orderedDouble((v as Date).getTime());
      break;
    case Rank.String:
      key = withRank(utf8.encode(v as string));
      break;
    case Rank.Bytes:
      key = withRank(v as Uint8Array);
      break;
    case Rank.Ref: {
      const ref = v as RecordRef;
      key = withRank(utf8.encode(`${ref.collection}\0${ref.id}`));
      break;
    }
    default:
      return undefined;
  }
  key[0] = rankByte(rank);
  return key;
}

function withRank(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 1);
  out.set(body, 1);
  return out;
}

/** The keys under which a field value is indexed: itself, or each distinct scalar element of an array. */
export function indexKeysOf(v: Value): Uint8Array[] {
  if (!Array.isArray(v)) {
    const key = indexKey(v);
    return key ? [key] : [];
  }
  const seen = new Set<string>();
  const keys: Uint8Array[] = [];
  for (const element of v as Value[]) {
    const key = indexKey(element);
    if (!key) continue;
    const id = Buffer.from(key).toString('latin1');
    if (!seen.has(id)) keys.push(key);
    seen.add(id);
  }
  return keys;
}

/** The first key of a kind's range, and the first key after it. */
export function rankRange(v: Value): { start: Uint8Array; end: Uint8Array } {
  const b = rankByte(rankOf(v));
  return { start: Uint8Array.of(b), end: Uint8Array.of(b + 1) };
}
