/** Find options: sort, limit, offset; validated like queries. */
import type { Value, ValueMap } from '../values/value.ts';
import { compareValues } from './compare.ts';
import { isMissing, valueAt } from './match.ts';
import { QueryError } from './query.ts';

export interface FindOptions {
  /** Sort keys in priority order: `{ priority: -1, title: 1 }` (1 ascending, -1 descending). */
  readonly sort?: { readonly [path: string]: 1 | -1 };
  readonly limit?: number;
  readonly offset?: number;
}

export interface SortKey {
  readonly path: readonly string[];
  readonly direction: 1 | -1;
}

export interface ParsedOptions {
  readonly sort: readonly SortKey[];
  readonly limit: number;
  readonly offset: number;
}

export function parseOptions(options: FindOptions | undefined): ParsedOptions {
  if (options === undefined) return { sort: [], limit: Number.POSITIVE_INFINITY, offset: 0 };
  if (typeof options !== 'object' || options === null) throw new QueryError('options', 'options must be an object');
  for (const key of Object.keys(options)) {
    if (key !== 'sort' && key !== 'limit' && key !== 'offset')
      throw new QueryError(`options.${key}`, 'unknown option (sort, limit, offset)');
  }
  const sort: SortKey[] = [];
  if (options.sort !== undefined) {
    if (typeof options.sort !== 'object' || options.sort === null || Array.isArray(options.sort)) {
      throw new QueryError('options.sort', 'sort is an object of path: 1 | -1');
    }
    for (const [path, direction] of Object.entries(options.sort)) {
      if (direction !== 1 && direction !== -1) throw new QueryError(`options.sort.${path}`, 'direction is 1 or -1');
      const parts = path.split('.');
      if (parts.some((p) => p.length === 0)) throw new QueryError(`options.sort.${path}`, `bad field path '${path}'`);
      sort.push({ path: parts, direction });
    }
  }
  const count = (name: 'limit' | 'offset', fallback: number) => {
    const v = options[name];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
      throw new QueryError(`options.${name}`, `${name} is a non-negative integer`);
    return v;
  };
  return { sort, limit: count('limit', Number.POSITIVE_INFINITY), offset: count('offset', 0) };
}

/** Orders records by the sort keys (missing fields first when ascending), then by id. */
export function compareRecords(sort: readonly SortKey[], a: { id: string; doc: ValueMap }, b: { id: string; doc: ValueMap }): number {
  for (const { path, direction } of sort) {
    const x = valueAt(a.doc, path);
    const y = valueAt(b.doc, path);
    const mx = isMissing(x);
    const my = isMissing(y);
    const c = mx || my ? Number(my) - Number(mx) : compareValues(x as Value, y as Value);
    if (c !== 0) return c * direction;
  }
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
