/**
 * Values to and from the CLI's JSON. JSON has no bytes, timestamps, int64 or record refs, so
 * those print as tagged objects: {"$bytes": base64}, {"$date": ISO}, {"$int64": "digits"},
 * {"$ref": {"collection", "id"}}; the same forms are accepted on input.
 */
import { RecordRef, type Value } from '../../src/values/value.ts';

export function toJson(v: unknown): unknown {
  if (typeof v === 'bigint') return { $int64: v.toString() };
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('base64') };
  if (v instanceof Date) return { $date: v.toISOString() };
  if (v instanceof RecordRef) return { $ref: { collection: v.collection, id: v.id } };
  if (Array.isArray(v)) return v.map(toJson);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]));
  return v;
}

export function fromJson(v: unknown): Value {
  if (Array.isArray(v)) return v.map(fromJson);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1) {
      if (typeof o.$int64 === 'string' && /^-?\d+$/.test(o.$int64)) return BigInt(o.$int64);
      if (typeof o.$bytes === 'string') return new Uint8Array(Buffer.from(o.$bytes, 'base64'));
      if (typeof o.$date === 'string') return new Date(o.$date);
      const ref = o.$ref as Record<string, unknown> | undefined;
      if (ref && typeof ref.collection === 'string' && typeof ref.id === 'string') return new RecordRef(ref.collection, ref.id);
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, fromJson(x)]));
  }
  return v as Value;
}

/** A VALUE argument: JSON when it parses, otherwise the string itself. */
export function parseLooseValue(text: string): Value {
  try {
    return fromJson(JSON.parse(text));
  } catch {
    return text;
  }
}
