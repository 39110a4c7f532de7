/**
 * Live queries. A subscription holds its last result. After each commit, only changes to its
 * collection whose record matched the query before or after count. Without limit or offset the
 * result is updated in place from those records alone (removed, replaced, or inserted at its
 * sort position; appended when unsorted); with a limit or offset the query is re-run, since a
 * record leaving a page pulls in one not yet held. The callback fires only if the result differs.
 */
import { type Condition, compareRecords, matches, type ParsedOptions } from '../query/index.ts';
import { lowerBound } from '../util/search.ts';
import { valuesEqual } from '../values/value.ts';
import type { CommittedChange, Doc, Engine } from './engine.ts';

export interface LiveResult<R> {
  /** The whole current result. */
  readonly records: readonly R[];
  /** Since the previous callback (all `added` on the first). */
  readonly added: readonly R[];
  readonly removed: readonly R[];
  readonly changed: readonly R[];
}

type Row = { readonly _id: string };

export interface Subscription<R extends Row> {
  collection: string;
  condition: Condition;
  options: ParsedOptions;
  /** The whole result, from the store. */
  run(): R[];
  /** A result row from a record's id and fields. */
  row(id: string, doc: Doc): R;
  callback(result: LiveResult<R>): void;
}

export interface LiveQueriesInit {
  engine: Engine;
  /** Where an exception thrown by a subscriber goes (it never fails the write). */
  onError(err: unknown): void;
}

interface Active<R extends Row> extends Subscription<R> {
  last: R[];
}

export class LiveQueries {
  readonly #subs = new Set<Active<Row>>();
  readonly #onError: (err: unknown) => void;
  readonly #engine: Engine;
  /** Listening to commits only while someone subscribes keeps plain writes cheaper. */
  #stopListening: (() => void) | undefined;

  constructor(init: LiveQueriesInit) {
    this.#onError = init.onError;
    this.#engine = init.engine;
  }

  subscribe<R extends Row>(sub: Subscription<R>): () => void {
    const active: Active<R> = { ...sub, last: sub.run() };
    this.#subs.add(active as unknown as Active<Row>);
    this.#stopListening ??= this.#engine.onCommit((changes) => this.#onCommit(changes));
    this.#deliver(active, { records: active.last, added: active.last, removed: [], changed: [] });
    return () => {
      this.#subs.delete(active as unknown as Active<Row>);
      if (this.#subs.size === 0) {
        this.#stopListening?.();
        this.#stopListening = undefined;
      }
    };
  }

  #onCommit(changes: readonly CommittedChange[]): void {
    for (const sub of [...this.#subs]) {
      if (!this.#subs.has(sub)) continue;
      const relevant = changes.filter(
        (c) =>
          c.collection === sub.collection &&
          (c.external === true ||
            (c.before !== undefined && matches(c.before, sub.condition)) ||
            (c.after !== undefined && matches(c.after, sub.condition))),
      );
      if (relevant.length === 0) continue;
      const paged = sub.options.offset > 0 || sub.options.limit !== Number.POSITIVE_INFINITY;
      const next = paged ? sub.run() : applyChanges(sub, relevant);
      const diff = diffResults(sub.last, next);
      if (!diff) continue;
      sub.last = next;
      this.#deliver(sub, diff);
    }
  }

  #deliver<R extends Row>(sub: Active<R>, result: LiveResult<R>): void {
    try {
      sub.callback(result);
    } catch (err) {
      this.#onError(err);
    }
  }
}

/** The difference between two results, or undefined when they are the same, in the same order. */
function diffResults<R extends Row>(before: readonly R[], after: readonly R[]): LiveResult<R> | undefined {
  const old = new Map(before.map((r) => [r._id, r]));
  const now = new Map(after.map((r) => [r._id, r]));
  const added = after.filter((r) => !old.has(r._id));
  const removed = before.filter((r) => !now.has(r._id));
  const changed = after.filter((r) => {
    const o = old.get(r._id);
    return o !== undefined && !valuesEqual(o as never, r as never);
  });
  const sameOrder = before.length === after.length && before.every((r, i) => r._id === after[i]?._id);
  if (added.length === 0 && removed.length === 0 && changed.length === 0 && sameOrder) return undefined;
  return { records: after, added, removed, changed };
}

/** The result after `changes`, computed from the changed records alone (no limit or offset). */
function applyChanges<R extends Row>(sub: Active<R>, changes: readonly CommittedChange[]): R[] {
  const next = [...sub.last];
  const sort = sub.options.sort;
  const byRow = (a: R, b: R) => compareRecords(sort, { id: a._id, doc: a as unknown as Doc }, { id: b._id, doc: b as unknown as Doc });
  for (const c of changes) {
    const at = next.findIndex((r) => r._id === c.id);
    const keep = c.after !== undefined && matches(c.after, sub.condition);
    if (!keep) {
      if (at >= 0) next.splice(at, 1);
      continue;
    }
    const row = sub.row(c.id, c.after as Doc);
    if (sort.length === 0) {
      if (at >= 0) next[at] = row;
      else next.push(row);
      continue;
    }
    if (at >= 0) next.splice(at, 1);
    next.splice(lowerBound(next, row, byRow), 0, row);
  }
  return next;
}
