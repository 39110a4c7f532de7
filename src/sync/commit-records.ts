/**
 * What every session serving a partial peer asks about a commit's ops, worked out once for all
 * of them: each op's record key, the record's doc, whether the op started its record, which
 * sessions hold any of its records, the strings its records have at a filter's guard path, each
 * origin's seq span, and the skipped-dot ranges. A relay serving a hundred partial peers
 * otherwise looked each of these up a hundred times per op; with them, a session judges a commit
 * that holds nothing for it in a few lookups, whatever its size.
 *
 * Keyed by the ops array the engine hands to every onOps listener of one commit; forgotten with it.
 */

import type { Doc } from '../db/engine.ts';
import { recordKey } from '../db/record-key.ts';
import type { NodeId } from '../identity/node-id.ts';
import type { Op } from '../ops/op.ts';
import { isMissing, valueAt } from '../query/match.ts';
import type { HeldRecords, HolderIndex } from './held-records.ts';
import type { SkipRange } from './messages.ts';
import type { SyncSource } from './session.ts';
import { SkipRanges } from './skip-ranges.ts';

/** An origin's ops in a commit: the first seq, and whether the rest follow it one by one. */
export interface OriginSpan {
  readonly node: NodeId;
  readonly first: number;
  readonly consecutive: boolean;
}

export class CommitRecords {
  readonly keys: readonly string[];
  /** Op indices by collection. */
  readonly byCollection: ReadonlyMap<string, readonly number[]>;
  readonly #ops: readonly Op[];
  readonly #source: SyncSource;
  readonly #docs: (Doc | undefined)[] = [];
  /** The source's docsVersion when #docs (and #strings) were read. */
  #docsAt = -1;
  readonly #strings = new Map<string, ReadonlySet<string>>();
  readonly #starts: (boolean | undefined)[] = [];
  #notStarting: readonly number[] | undefined;
  #spans: readonly OriginSpan[] | undefined;
  #ranges: readonly SkipRange[] | undefined;
  #holders: { version: number; holders: ReadonlySet<HeldRecords> } | undefined;

  private constructor(ops: readonly Op[], source: SyncSource) {
    this.#ops = ops;
    this.#source = source;
    this.keys = ops.map((op) => recordKey(op.collection, op.record));
    const byCollection = new Map<string, number[]>();
    ops.forEach((op, i) => {
      const at = byCollection.get(op.collection);
      if (at) at.push(i);
      else byCollection.set(op.collection, [i]);
    });
    this.byCollection = byCollection;
  }

  static of(ops: readonly Op[], source: SyncSource): CommitRecords {
    let records = cache.get(ops);
    if (!records) {
      records = new CommitRecords(ops, source);
      cache.set(ops, records);
    }
    return records;
  }

  /**
   * The doc of op i's record now (undefined: it does not exist), read again once a later commit
   * may have changed it (sessions judge held-back ops after a delay). Shared: do not modify it.
   */
  doc(i: number): Doc | undefined {
    this.#checkDocs();
    if (!(i in this.#docs)) {
      const op = this.#ops[i] as Op;
      this.#docs[i] = this.#source.recordDoc(op.collection, op.record);
    }
    return this.#docs[i];
  }

  /** Forgets the docs read (and what was worked out from them) once a commit may have changed them. */
  #checkDocs(): void {
    const at = this.#source.docsVersion();
    if (at === this.#docsAt) return;
    this.#docs.length = 0;
    this.#strings.clear();
    this.#docsAt = at;
  }

  /**
   * Every string the commit's records of `collection` have now at `path` (the value, or an
   * element of it): a filter guarded by a string not among them matches none of them.
   */
  stringsAt(collection: string, path: readonly string[]): ReadonlySet<string> {
    this.#checkDocs();
    const key = `${collection}\0${path.join('\0')}`;
    let strings = this.#strings.get(key);
    if (!strings) {
      const found = new Set<string>();
      for (const i of this.byCollection.get(collection) ?? []) {
        const doc = this.doc(i);
        const v = doc === undefined ? undefined : valueAt(doc, path);
        if (v === undefined || isMissing(v)) continue;
        if (typeof v === 'string') found.add(v);
        else if (Array.isArray(v)) for (const e of v) if (typeof e === 'string') found.add(e);
      }
      strings = found;
      this.#strings.set(key, strings);
    }
    return strings;
  }

  /** Indices of the ops that are not inserts starting their record (only those can move one out of a filter). */
  notStarting(): readonly number[] {
    this.#notStarting ??= this.#ops.map((_, i) => i).filter((i) => !this.startsRecord(i));
    return this.#notStarting;
  }

  /** Each origin's seq span, in the order the origins first appear. */
  spans(): readonly OriginSpan[] {
    if (!this.#spans) {
      const spans = new Map<NodeId, { node: NodeId; first: number; last: number; consecutive: boolean }>();
      for (const op of this.#ops) {
        const span = spans.get(op.node);
        if (!span) spans.set(op.node, { node: op.node, first: op.seq, last: op.seq, consecutive: true });
        else {
          if (op.seq !== span.last + 1) span.consecutive = false;
          span.last = op.seq;
        }
      }
      this.#spans = [...spans.values()];
    }
    return this.#spans;
  }

  /** The commit's dots as skipped ranges (shared: do not modify). */
  skipRanges(): readonly SkipRange[] {
    if (!this.#ranges) {
      const ranges = new SkipRanges();
      for (const op of this.#ops) ranges.add({ node: op.node, from: op.seq, to: op.seq });
      this.#ranges = ranges.take();
    }
    return this.#ranges;
  }

  /** The sessions' sets that hold any of the commit's records now. */
  holders(index: HolderIndex): ReadonlySet<HeldRecords> {
    if (this.#holders?.version !== index.version) this.#holders = { version: index.version, holders: index.holdersOf(this.keys) };
    return this.#holders.holders;
  }

  op(i: number): Op {
    return this.#ops[i] as Op;
  }

  /** SyncSource.startsRecord of op i. */
  startsRecord(i: number): boolean {
    let starts = this.#starts[i];
    if (starts === undefined) {
      starts = this.#source.startsRecord(this.#ops[i] as Op);
      this.#starts[i] = starts;
    }
    return starts;
  }
}

const cache = new WeakMap<readonly Op[], CommitRecords>();
