/**
 * Selective-sync filters: which records a partial replica holds, and which of their fields.
 *
 *   { collections: { bugs: { where: { assignee: 'ann' }, exclude: ['attachments'] }, users: {} } }
 *
 * A record is in the filter when its collection is listed and its current doc matches `where`
 * (the query language of `find`); excluded top-level fields never travel to the partial replica.
 * The `_schema` collection (field strategies) is always in: merging needs it.
 * Semantics and the protocol around it: docs/protocol.md (Selective sync).
 */
import { valueKey } from '../codec/value-key.ts';
import { ValidationError } from '../errors.ts';
import type { FieldOp, Op } from '../ops/op.ts';
import { type Condition, matches, parseQuery, type Query } from '../query/index.ts';
import { SCHEMA_COLLECTION } from '../replica/replica.ts';
import { validateName, validateValue } from '../values/validate.ts';
import { isRecordObject, type Value } from '../values/value.ts';

export interface CollectionFilterSpec {
  readonly where?: Query;
  readonly exclude?: readonly string[];
}

export interface SyncFilterSpec {
  readonly collections: Readonly<Record<string, CollectionFilterSpec>>;
}

interface CollectionFilter {
  readonly condition: Condition | undefined;
  readonly whereKey: string;
  readonly exclude: ReadonlySet<string>;
  /** Top-level fields the condition reads: only ops touching them can change membership. */
  readonly whereFields: ReadonlySet<string>;
  /** A string the record's field at `path` must equal (or hold) for the condition to match. */
  readonly guard: FilterGuard | undefined;
}

/** See SyncFilter.guard. */
export interface FilterGuard {
  readonly path: readonly string[];
  readonly value: string;
}

/** A bad filter: names the part and what is wrong with it. */
export class FilterError extends ValidationError {
  override name = 'FilterError';
}

const MAX_FILTER_COLLECTIONS = 256;
const NONE: ReadonlySet<string> = new Set();

export class SyncFilter {
  readonly spec: SyncFilterSpec;
  /** Canonical form: equal filters have equal keys. */
  readonly key: string;
  readonly #collections: ReadonlyMap<string, CollectionFilter>;

  private constructor(spec: SyncFilterSpec, collections: Map<string, CollectionFilter>) {
    this.spec = spec;
    this.#collections = collections;
    this.key = valueKey(spec as unknown as Value);
  }

  /** Validates a filter as the API or the wire gives it. Throws FilterError. */
  static parse(input: unknown): SyncFilter {
    if (!isRecordObject(input) || !isRecordObject(input.collections)) {
      throw new FilterError('filter', 'a filter is { collections: { name: { where?, exclude? } } }');
    }
    const extra = Object.keys(input).filter((k) => k !== 'collections');
    if (extra.length > 0) throw new FilterError(`filter.${extra[0]}`, 'unknown filter key (only collections)');
    const given = input.collections as Record<string, unknown>;
    const names = Object.keys(given);
    if (names.length === 0) throw new FilterError('filter.collections', 'names at least one collection');
    if (names.length > MAX_FILTER_COLLECTIONS) throw new FilterError('filter.collections', `at most ${MAX_FILTER_COLLECTIONS} collections`);
    const collections = new Map<string, CollectionFilter>();
    const spec: Record<string, CollectionFilterSpec> = {};
    for (const name of names) {
      const at = `filter.collections.${name}`;
      rethrowAsFilterError(() => validateName(name, at, 'collection name'));
      const entry = given[name];
      if (!isRecordObject(entry)) throw new FilterError(at, 'takes { where?, exclude? }');
      const { where, exclude, ...rest } = entry;
      if (Object.keys(rest).length > 0) throw new FilterError(`${at}.${Object.keys(rest)[0]}`, 'unknown key (where, exclude)');
      const excluded = parseExclude(exclude, `${at}.exclude`);
      let condition: Condition | undefined;
      if (where !== undefined) {
        rethrowAsFilterError(() => validateValue(where, `${at}.where`));
        condition = rethrowAsFilterError(() => parseQuery(where));
      }
      const whereFields = new Set<string>();
      if (condition) collectFields(condition, whereFields);
      for (const field of whereFields) {
        if (excluded.has(field)) throw new FilterError(`${at}.where`, `reads '${field}', which the filter excludes`);
      }
      collections.set(name, {
        condition,
        whereKey: where === undefined ? '' : valueKey(where as Value),
        exclude: excluded,
        whereFields,
        guard: condition && guardOf(condition),
      });
      spec[name] = {
        ...(where === undefined ? {} : { where: where as Query }),
        ...(excluded.size > 0 ? { exclude: [...excluded].sort() } : {}),
      };
    }
    return new SyncFilter({ collections: spec }, collections);
  }

  /** Whether a record with this doc (undefined: absent or deleted) belongs in the filter. */
  matches(collection: string, doc: Readonly<Record<string, Value>> | undefined): boolean {
    if (collection === SCHEMA_COLLECTION) return true;
    const c = this.#collections.get(collection);
    if (!c || doc === undefined) return false;
    return c.condition === undefined || matches(doc, c.condition);
  }

  /**
   * A string that a record of `collection` must have at a path (equal to the field, or among
   * its elements) to match, when the condition requires one (`{ owner: 'ann', ... }`): a commit
   * whose records have no such value anywhere holds nothing for this filter. Undefined when the
   * condition requires none.
   */
  guard(collection: string): FilterGuard | undefined {
    return this.#collections.get(collection)?.guard;
  }

  includesCollection(collection: string): boolean {
    return collection === SCHEMA_COLLECTION || this.#collections.has(collection);
  }

  /** The parsed `where` of a listed collection (undefined: every record of it). */
  condition(collection: string): Condition | undefined {
    return this.#collections.get(collection)?.condition;
  }

  /** Names of the collections the filter lists. */
  collections(): string[] {
    return [...this.#collections.keys()];
  }

  /** Top-level fields of `collection` that do not travel to the partial replica. */
  excluded(collection: string): ReadonlySet<string> {
    return this.#collections.get(collection)?.exclude ?? NONE;
  }

  /** The op without its excluded fields; undefined when nothing of an update is left. */
  strip(op: Op): Op | undefined {
    const c = this.#collections.get(op.collection);
    if (!c || c.exclude.size === 0) return op;
    const fields: FieldOp[] = op.fields.filter((f) => !c.exclude.has(f.field));
    if (fields.length === op.fields.length) return op;
    if (fields.length === 0 && op.kind === 'update') return undefined;
    return { ...op, fields };
  }

  /** Whether the op could move its record into or out of the filter. */
  touchesMembership(op: Op): boolean {
    const c = this.#collections.get(op.collection);
    if (!c) return false;
    if (op.kind !== 'update') return true;
    return op.fields.some((f) => c.whereFields.has(f.field));
  }

  /**
   * True when every record this filter holds is one `other` holds, with no field `other` lacks:
   * the same collections or fewer, each with a condition that implies `other`'s (`other` has
   * none, or every condition `other`'s and-s together is one this one and-s too) and at least
   * its exclusions. Conservative: a narrower but differently written condition is not recognised.
   */
  isSubsetOf(other: SyncFilter): boolean {
    for (const [name, mine] of this.#collections) {
      const theirs = other.#collections.get(name);
      if (!theirs) return false;
      if (theirs.condition !== undefined && theirs.whereKey !== mine.whereKey && !implies(mine.condition, theirs.condition)) return false;
      for (const field of theirs.exclude) if (!mine.exclude.has(field)) return false;
    }
    return true;
  }
}

/** Whether `a` and-s together every condition `b` does (so every record `a` matches, `b` does). */
function implies(a: Condition | undefined, b: Condition): boolean {
  if (a === undefined) return false;
  const have = new Set(conjuncts(a).map(conditionKey));
  return conjuncts(b).every((c) => have.has(conditionKey(c)));
}

/** An equality to a string that every record matching `c` has (an and-ed one will do). */
function guardOf(c: Condition): FilterGuard | undefined {
  if (c.op === 'eq' && typeof c.value === 'string') return { path: c.path, value: c.value };
  if (c.op !== 'and') return undefined;
  for (const item of c.items) {
    const guard = guardOf(item);
    if (guard) return guard;
  }
  return undefined;
}

function conjuncts(c: Condition): Condition[] {
  return c.op === 'and' ? c.items.flatMap(conjuncts) : [c];
}

function conditionKey(c: Condition): string {
  return valueKey(c as unknown as Value);
}

function parseExclude(exclude: unknown, at: string): Set<string> {
  if (exclude === undefined) return new Set();
  if (!Array.isArray(exclude)) throw new FilterError(at, 'takes an array of top-level field names');
  const out = new Set<string>();
  for (let i = 0; i < exclude.length; i++) {
    const field = exclude[i];
    if (typeof field !== 'string') throw new FilterError(`${at}[${i}]`, 'a field name is a string');
    rethrowAsFilterError(() => validateName(field, `${at}[${i}]`, 'field name'));
    out.add(field);
  }
  return out;
}

function collectFields(c: Condition, out: Set<string>): void {
  switch (c.op) {
    case 'and':
    case 'or':
      for (const item of c.items) collectFields(item, out);
      return;
    case 'not':
      collectFields(c.item, out);
      return;
    default:
      out.add(c.path[0] as string);
  }
}

function rethrowAsFilterError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ValidationError && !(err instanceof FilterError)) throw new FilterError(err.path, err.reason);
    throw err;
  }
}
