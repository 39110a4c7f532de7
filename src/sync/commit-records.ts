/**
 * What every session serving a partial peer asks about a commit's ops, read once for all of them:
 * each op's record key, the record's doc, and whether the op started its record. A relay serving
 * a hundred partial peers otherwise looked each of these up a hundred times per op.
 *
 * Keyed by the ops array the engine hands to every onOps listener of one commit; forgotten with it.
 */

import type { Doc } from '../db/engine.ts';
import { recordKey } from '../db/record-key.ts';
import type { Op } from '../ops/op.ts';
import type { SyncSource } from './session.ts';

export class CommitRecords {
  readonly keys: readonly string[];
  readonly #ops: readonly Op[];
  readonly #source: SyncSource;
  readonly #docs: (Doc | undefined)[] = [];
  /** The source's docsVersion when #docs were read. */
  #docsAt = -1;
  readonly #starts: (boolean | undefined)[] = [];

  private constructor(ops: readonly Op[], source: SyncSource) {
    this.#ops = ops;
    this.#source = source;
    this.keys = ops.map((op) => recordKey(op.collection, op.record));
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
    const at = this.#source.docsVersion();
    if (at !== this.#docsAt) {
      this.#docs.length = 0;
      this.#docsAt = at;
    }
    if (!(i in this.#docs)) {
      const op = this.#ops[i] as Op;
      this.#docs[i] = this.#source.recordDoc(op.collection, op.record);
    }
    return this.#docs[i];
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
