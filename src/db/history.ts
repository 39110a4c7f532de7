/**
 * History, time travel and undo, all by replaying ops. Since merging is order-independent, the
 * state "as of" a time is simply what a fresh replica shows after applying every op stamped
 * at or before it; a record's history is its ops in stamp order, each with the field values
 * just before and after it.
 */
import type { HlcTime } from '../clock/hlc.ts';
import { compareStamps } from '../clock/stamp.ts';
import { BlazeError, ValidationError } from '../errors.ts';
import type { Horizon } from '../gc/horizon.ts';
import type { NodeId } from '../identity/node-id.ts';
import type { FieldOp, FieldOpType, Op, OpKind } from '../ops/op.ts';
import { type Condition, compareRecords, matches, type ParsedOptions } from '../query/index.ts';
import type { Replica } from '../replica/index.ts';
import type { Value } from '../values/value.ts';
import { basesOf, loadBase, replayReplica } from './bases.ts';
import type { Doc, Engine } from './engine.ts';

/** No op with that id is stored here (never was, or compaction removed it). */
export class OpNotFoundError extends BlazeError {
  override name = 'OpNotFoundError';
}

/** Asked for a time before the retained history: compaction removed ops it would need. */
export class HistoryRetentionError extends BlazeError {
  override name = 'HistoryRetentionError';
  /** The earliest time that can be answered. */
  readonly historyFrom: Date;
  constructor(historyFrom: Date) {
    super(`history before ${historyFrom.toISOString()} is no longer retained (compacted; see gc.historyRetentionMs)`);
    this.historyFrom = historyFrom;
  }
}

export interface FieldChange {
  readonly field: string;
  readonly op: FieldOpType;
  /** Undefined when the field was absent. */
  readonly before: Value | undefined;
  readonly after: Value | undefined;
}

export interface HistoryEntry {
  /** `node:seq`, what `undo` takes. */
  readonly opId: string;
  readonly node: NodeId;
  readonly seq: number;
  readonly at: Date;
  readonly hlc: HlcTime;
  readonly kind: OpKind;
  readonly changes: readonly FieldChange[];
}

/** A point in time: a Date (every op up to that millisecond) or an exact HLC stamp. */
export type TimePoint = Date | HlcTime;

/** Throws unless `time` is a valid Date or HLC stamp. */
export function checkTime(time: unknown): asserts time is TimePoint {
  if (time instanceof Date) {
    if (Number.isNaN(time.getTime())) throw new ValidationError('time', 'invalid Date');
    return;
  }
  const t = time as HlcTime | null;
  if (typeof t !== 'object' || t === null || !Number.isSafeInteger(t.wall) || !Number.isSafeInteger(t.counter)) {
    throw new ValidationError('time', 'a time is a Date or an HLC stamp { wall, counter }');
  }
}

export function opId(op: Op): string {
  return `${op.node}:${op.seq}`;
}

export function parseOpId(id: unknown): { node: NodeId; seq: number } {
  const match = typeof id === 'string' ? /^([0-9a-f]{16}):([1-9][0-9]{0,15})$/.exec(id) : null;
  if (!match) throw new ValidationError('opId', 'an op id is NODE:SEQ, e.g. 0123456789abcdef:42');
  return { node: match[1] as NodeId, seq: Number(match[2]) };
}

function atOrBefore(op: Op, time: TimePoint): boolean {
  if (time instanceof Date) return op.wall <= time.getTime();
  return op.wall < time.wall || (op.wall === time.wall && op.counter <= time.counter);
}

function fieldsTouched(op: Op, before: Doc | undefined, after: Doc | undefined): { field: string; type: FieldOpType }[] {
  if (op.kind === 'delete') return Object.keys(before ?? {}).map((field) => ({ field, type: 'unset' as const }));
  const seen = new Set<string>();
  const out: { field: string; type: FieldOpType }[] = [];
  for (const f of op.fields) {
    if (!seen.has(f.field)) out.push({ field: f.field, type: f.type });
    seen.add(f.field);
  }
  if (op.kind === 'insert') {
    // An insert that brings a record back shows every field it now has.
    for (const field of Object.keys(after ?? {})) if (!seen.has(field)) out.push({ field, type: 'set' });
  }
  return out;
}

export class History {
  readonly #engine: Engine;
  readonly #horizon: Horizon;

  constructor(engine: Engine, horizon: Horizon) {
    this.#engine = engine;
    this.#horizon = horizon;
  }

  /** A replay replica holding the record's base state (what compaction folded), if any. */
  #replayOf(collection: string, id: string): Replica {
    const replica = replayReplica(this.#horizon.vector);
    const base = loadBase(this.#engine, collection, id);
    if (base) replica.replaceRecord(collection, id, base);
    return replica;
  }

  /** Compacted ops are in base states: a time before the newest of them cannot be replayed. */
  checkRetained(time: TimePoint): void {
    const wall = this.#horizon.wall;
    if (wall === 0) return;
    const answerable = time instanceof Date ? time.getTime() >= wall : time.wall > wall;
    if (!answerable) throw new HistoryRetentionError(new Date(wall));
  }

  #opsOfRecord(collection: string, id: string): Op[] {
    return this.#engine.storage.opsOfRecord(collection, id).map((s) => this.#engine.decodeStoredOp(s));
  }

  /**
   * Every op of the record still in the log, oldest first, with the values before and after
   * each (the first `before` includes what compaction folded into the record's base state).
   */
  history(collection: string, id: string): HistoryEntry[] {
    const ops = this.#opsOfRecord(collection, id).sort(compareStamps);
    const replica = this.#replayOf(collection, id);
    return ops.map((op) => {
      const before = replica.get(collection, id);
      replica.apply(op);
      const after = replica.get(collection, id);
      const changes = fieldsTouched(op, before, after).map(({ field, type }) => ({
        field,
        op: type,
        before: before?.[field],
        after: after?.[field],
      }));
      return {
        opId: opId(op),
        node: op.node,
        seq: op.seq,
        at: new Date(op.wall),
        hlc: { wall: op.wall, counter: op.counter },
        kind: op.kind,
        changes,
      };
    });
  }

  /** A read-only view of one record at `time`. */
  getAsOf(collection: string, id: string, time: TimePoint): Doc | undefined {
    checkTime(time);
    this.checkRetained(time);
    const replica = this.#replayOf(collection, id);
    for (const op of this.#opsOfRecord(collection, id)) if (atOrBefore(op, time)) replica.apply(op);
    return replica.get(collection, id);
  }

  /** Records of a collection at `time` matching `condition`. */
  findAsOf(collection: string, time: TimePoint, condition: Condition, options: ParsedOptions): { id: string; doc: Doc }[] {
    checkTime(time);
    this.checkRetained(time);
    const replica = replayReplica(this.#horizon.vector);
    for (const [id, base] of basesOf(this.#engine, collection)) replica.replaceRecord(collection, id, base);
    // Records whose state is their base (nothing of them in the log since it was compacted or
    // came in a snapshot) show now what they showed at any time the horizon allows.
    if (this.#horizon.wall > 0) {
      for (const [id] of this.#engine.storage.scanDocs(collection)) {
        const base = replica.recordState(collection, id) ? undefined : loadBase(this.#engine, collection, id);
        if (base) replica.replaceRecord(collection, id, base);
      }
    }
    for (const stored of this.#engine.storage.opsOfCollection(collection)) {
      const op = this.#engine.decodeStoredOp(stored);
      if (atOrBefore(op, time)) replica.apply(op);
    }
    const out: { id: string; doc: Doc }[] = [];
    for (const id of replica.ids(collection)) {
      const doc = replica.get(collection, id) as Doc;
      if (matches(doc, condition)) out.push({ id, doc });
    }
    out.sort((a, b) => compareRecords(options.sort, a, b));
    return out.slice(options.offset, options.offset + options.limit);
  }

  /** Field ops that give a re-inserted record's field `value` again, by the field's own CRDT. */
  #restoreField(collection: string, field: string, value: Value): FieldOp[] {
    switch (this.#engine.replica.strategyOf(collection, field)) {
      case 'counter':
        return [{ type: 'inc', field, delta: value as number }];
      case 'set':
        return (value as Value[]).map((element) => ({ type: 'add' as const, field, value: element }));
      case 'mv':
        return [{ type: 'mvset', field, value, observed: [] }];
      default:
        return [{ type: 'set', field, value }];
    }
  }

  /**
   * The field ops that undo op `id` on its record: fields set back to their values just before
   * it, increments reversed, set adds removed and removes re-added, an insert deleted, a delete
   * re-inserted with the fields it removed. History is not rewritten: these are new ops.
   */
  undoPlan(id: string): { collection: string; record: string; kind: OpKind; fields: FieldOp[] } {
    const { node, seq } = parseOpId(id);
    const payload = this.#engine.storage.getOp(node, seq);
    if (!payload) {
      const compacted = seq <= (this.#horizon.vector.get(node) ?? 0);
      throw new OpNotFoundError(compacted ? `op ${id} was compacted away (it is stable everywhere)` : `no op ${id} is stored here`);
    }
    const target = this.#engine.decodeStoredOp({ node, seq, payload });
    const entry = this.history(target.collection, target.record).find((e) => e.opId === id) as HistoryEntry;
    const { collection, record } = target;
    if (collection.startsWith('_')) throw new ValidationError('opId', `ops on the system collection ${collection} cannot be undone`);
    if (target.kind === 'insert') return { collection, record, kind: 'delete', fields: [] };
    const fields: FieldOp[] = [];
    for (const change of entry.changes) {
      if (target.kind === 'delete') {
        fields.push(...this.#restoreField(collection, change.field, change.before as Value));
        continue;
      }
      for (const f of target.fields.filter((x) => x.field === change.field)) {
        if (f.type === 'inc') fields.push({ type: 'inc', field: f.field, delta: -f.delta });
        else if (f.type === 'add') fields.push({ type: 'remove', field: f.field, value: f.value, observed: [{ node, seq }] });
        else if (f.type === 'remove') fields.push({ type: 'add', field: f.field, value: f.value });
        else if (change.before === undefined) fields.push({ type: 'unset', field: f.field });
        else if (f.type === 'mvset') fields.push({ type: 'mvset', field: f.field, value: change.before, observed: [] });
        else fields.push({ type: 'set', field: f.field, value: change.before });
        if (f.type === 'set' || f.type === 'mvset' || f.type === 'unset') break;
      }
    }
    return { collection, record, kind: target.kind === 'delete' ? 'insert' : 'update', fields };
  }
}
