/**
 * Field values: what a record's field can hold.
 *
 * | kind      | JavaScript                                  |
 * |-----------|---------------------------------------------|
 * | null      | `null`                                      |
 * | boolean   | `true`, `false`                             |
 * | integer   | a safe integer `number` (not -0)            |
 * | int64     | a `bigint` in [-2^63, 2^63 - 1]             |
 * | float64   | any other finite `number` (and -0)          |
 * | string    | a well-formed UTF-16 string                 |
 * | bytes     | `Uint8Array`                                |
 * | timestamp | `Date` with a valid time (ms precision)     |
 * | record id | `RecordRef` (collection + id)               |
 * | array     | `Value[]`                                   |
 * | map       | plain object with string keys               |
 */

export type Value =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | Date
  | RecordRef
  | readonly Value[]
  | { readonly [key: string]: Value };

/** A reference to a record, stored as a field value. */
export class RecordRef {
  readonly collection: string;
  readonly id: string;
  constructor(collection: string, id: string) {
    this.collection = collection;
    this.id = id;
  }
}

export type ValueMap = { readonly [key: string]: Value };

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

/** A plain object (literal or null-prototype), as opposed to a class instance. */
export function isPlainObject(v: object): v is ValueMap {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** A plain object that is not an array: the shape of a JSON object (a query, a filter, a rules file). */
export function isRecordObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && isPlainObject(x);
}

/** Deep equality of two valid values (bit-exact for floats: -0 differs from 0). */
export function valuesEqual(a: Value, b: Value): boolean {
  if (a === b) return typeof a !== 'number' || Object.is(a, b);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (a instanceof Uint8Array) {
    if (!(b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (a instanceof Date) return b instanceof Date && a.getTime() === b.getTime();
  if (a instanceof RecordRef) return b instanceof RecordRef && a.collection === b.collection && a.id === b.id;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!valuesEqual(a[i] as Value, b[i] as Value)) return false;
    return true;
  }
  if (Array.isArray(b) || b instanceof Uint8Array || b instanceof Date || b instanceof RecordRef) return false;
  const ma = a as ValueMap;
  const mb = b as ValueMap;
  const ka = Object.keys(ma);
  if (ka.length !== Object.keys(mb).length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(mb, k) || !valuesEqual(ma[k] as Value, mb[k] as Value)) return false;
  }
  return true;
}
