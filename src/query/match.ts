/** Evaluates a condition tree against a record's fields. */
import { type Value, type ValueMap, valuesEqual } from '../values/value.ts';
import { compareValues, rankOf } from './compare.ts';
import type { Condition } from './query.ts';

const MISSING = Symbol('missing');

/** The value at a dotted path, or MISSING. */
export function valueAt(doc: ValueMap, path: readonly string[]): Value | typeof MISSING {
  let v: Value | undefined = doc;
  for (const key of path) {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array || v instanceof Date) return MISSING;
    if (!Object.hasOwn(v, key)) return MISSING;
    v = (v as ValueMap)[key];
  }
  return v as Value;
}

export function isMissing(v: Value | typeof MISSING): v is typeof MISSING {
  return v === MISSING;
}

function equalsOrContains(field: Value, value: Value): boolean {
  if (valuesEqual(field, value)) return true;
  return Array.isArray(field) && !Array.isArray(value) && field.some((e) => valuesEqual(e as Value, value));
}

function compares(field: Value, op: 'gt' | 'gte' | 'lt' | 'lte', value: Value): boolean {
  const one = (v: Value) => {
    if (rankOf(v) !== rankOf(value)) return false;
    const c = compareValues(v, value);
    return op === 'gt' ? c > 0 : op === 'gte' ? c >= 0 : op === 'lt' ? c < 0 : c <= 0;
  };
  return one(field) || (Array.isArray(field) && !Array.isArray(value) && field.some((e) => one(e as Value)));
}

export function matches(doc: ValueMap, c: Condition): boolean {
  switch (c.op) {
    case 'and':
      return c.items.every((i) => matches(doc, i));
    case 'or':
      return c.items.some((i) => matches(doc, i));
    case 'not':
      return !matches(doc, c.item);
    case 'exists':
      return isMissing(valueAt(doc, c.path)) !== c.exists;
  }
  const field = valueAt(doc, c.path);
  switch (c.op) {
    case 'eq':
      return !isMissing(field) && equalsOrContains(field, c.value);
    case 'ne':
      return isMissing(field) || !equalsOrContains(field, c.value);
    case 'in':
      return !isMissing(field) && c.values.some((v) => equalsOrContains(field, v));
    case 'nin':
      return isMissing(field) || !c.values.some((v) => equalsOrContains(field, v));
    default:
      return !isMissing(field) && compares(field, c.op, c.value);
  }
}
