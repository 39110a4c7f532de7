/**
 * Query planning: picks how to find candidates for a condition, given the collection's
 * indexed paths. An index serves equality (`index-eq`), `$in` (`index-in`) and ranges
 * (`index-range`) on an indexed path among the top-level AND of the query; otherwise the
 * collection is scanned. Candidates are always re-checked against the whole condition.
 */
import type { KeyRange } from '../storage/storage.ts';
import type { Value } from '../values/value.ts';
import { indexKey, rankRange } from './index-key.ts';
import type { Condition } from './query.ts';

export interface Plan {
  readonly strategy: 'scan' | 'index-eq' | 'index-in' | 'index-range';
  /** The indexed path used, dotted. */
  readonly index?: string;
  /** Key ranges to scan in the index (one per `$in` value for index-in). */
  readonly ranges: readonly KeyRange[];
}

const SCAN: Plan = { strategy: 'scan', ranges: [] };

function topLevel(c: Condition): readonly Condition[] {
  return c.op === 'and' ? c.items : [c];
}

const pointRange = (v: Value): KeyRange | undefined => {
  const key = indexKey(v);
  return key ? { lower: key, upper: key } : undefined;
};

export function planQuery(condition: Condition, indexedPaths: ReadonlySet<string>): Plan {
  const items = topLevel(condition);
  const onIndex = (c: Condition): string | undefined => {
    if (!('path' in c)) return undefined;
    const path = c.path.join('.');
    return indexedPaths.has(path) ? path : undefined;
  };
  for (const c of items) {
    const index = onIndex(c);
    if (index && c.op === 'eq') {
      const range = pointRange(c.value);
      if (range) return { strategy: 'index-eq', index, ranges: [range] };
    }
  }
  for (const c of items) {
    const index = onIndex(c);
    if (index && c.op === 'in') {
      const ranges = c.values.map(pointRange);
      if (ranges.every((r) => r !== undefined)) return { strategy: 'index-in', index, ranges: ranges as KeyRange[] };
    }
  }
  for (const c of items) {
    const index = onIndex(c);
    if (!index || !(c.op === 'gt' || c.op === 'gte' || c.op === 'lt' || c.op === 'lte')) continue;
    const key = indexKey(c.value);
    if (!key) continue;
    // One bound from the condition, the other from the value's kind. Bounds of other conditions
    // on the path are not combined in: on an array field each may hold for a different element,
    // which no single key range can express. The re-check applies them. Inclusive even for
    // $gt/$lt: int64 keys are rounded, so an equal key may hold a larger value.
    const kind = rankRange(c.value);
    const lower = c.op === 'gt' || c.op === 'gte';
    const range: KeyRange = lower
      ? { lower: key, lowerInclusive: true, upper: kind.end, upperInclusive: false }
      : { lower: kind.start, lowerInclusive: true, upper: key, upperInclusive: true };
    return { strategy: 'index-range', index, ranges: [range] };
  }
  return SCAN;
}
