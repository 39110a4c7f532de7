/**
 * The merge state of one record: its field states, the stamp of its latest insert and of its
 * latest delete (the tombstone). Deletes win over every write stamped at or before them; only
 * an insert stamped after the tombstone brings the record back, and then only with what was
 * written after the delete (docs/crdt.md).
 */
import { compareStamps, type Stamp } from '../clock/stamp.ts';
import type { Value } from '../values/value.ts';
import type { FieldState } from './field-state.ts';

export interface Conflict {
  readonly field: string;
  /** The concurrent values, newest stamp first (the first is the one `get` shows). */
  readonly values: readonly Value[];
}

export class RecordState {
  readonly fields = new Map<string, FieldState>();
  insert: Stamp | undefined;
  tombstone: Stamp | undefined;
  /**
   * Not merge state but where the record's history starts: true while every op of the record
   * is compacted away or came in a snapshot, so its base state (docs/gc.md) is this state
   * itself and no separate copy is stored. The first change after it stores that copy.
   */
  baseIsState = false;

  /** False for a state no op has touched (or one a partial replica dropped). */
  get held(): boolean {
    return this.insert !== undefined || this.tombstone !== undefined || this.fields.size > 0;
  }

  get visible(): boolean {
    return this.insert !== undefined && (this.tombstone === undefined || compareStamps(this.insert, this.tombstone) > 0);
  }

  /** The record's fields as a plain object, or undefined while it does not exist. */
  view(): Record<string, Value> | undefined {
    if (!this.visible) return undefined;
    const doc: Record<string, Value> = {};
    for (const [name, field] of this.fields) {
      const v = field.view(this.tombstone);
      if (v !== undefined) doc[name] = v.value;
    }
    return doc;
  }

  conflicts(): Conflict[] {
    if (!this.visible) return [];
    const out: Conflict[] = [];
    for (const [name, field] of this.fields) {
      const v = field.view(this.tombstone);
      if (v?.conflict) out.push({ field: name, values: v.conflict });
    }
    return out;
  }
}
