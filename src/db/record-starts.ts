/**
 * Which inserts of a commit started their record on a full replica: the record's only op in
 * the log, with nothing compacted before it. Every session serving a partial peer asks this of
 * each committed op (SyncSource.startsRecord); answered from what the commit saw, it costs no
 * store reads (two per op before, a tenth of a relay's time under a hundred partial peers).
 */

import type { Op } from '../ops/op.ts';
import { recordKey } from './record-key.ts';

export class RecordStarts {
  /** Records of the current write that no op had touched before it. */
  readonly #untouched = new Set<string>();
  /** Committed ops, keyed by the very objects handed to ops listeners. */
  readonly #answers = new WeakMap<Op, boolean>();

  /** Inside a write: no op had touched this record before (its state was not held). */
  noteUntouched(collection: string, id: string): void {
    this.#untouched.add(recordKey(collection, id));
  }

  /** At commit: answers for each op of it (an insert alone in its untouched record starts it). */
  commit(ops: readonly Op[]): void {
    if (this.#untouched.size > 0) {
      const opsPerRecord = new Map<string, number>();
      const keys = ops.map((op) => recordKey(op.collection, op.record));
      for (const key of keys) opsPerRecord.set(key, (opsPerRecord.get(key) ?? 0) + 1);
      ops.forEach((op, i) => {
        const key = keys[i] as string;
        this.#answers.set(op, op.kind === 'insert' && this.#untouched.has(key) && opsPerRecord.get(key) === 1);
      });
    } else {
      for (const op of ops) this.#answers.set(op, false);
    }
    this.#untouched.clear();
  }

  /** A write rolled back. */
  discard(): void {
    this.#untouched.clear();
  }

  /** The answer for a committed op, or undefined for an op not from a commit seen here. */
  startsRecord(op: Op): boolean | undefined {
    return this.#answers.get(op);
  }
}
