/**
 * The replica: applies ops idempotently with per-field CRDT merge, tracks the version vector,
 * and turns local writes into ops. Any set of ops applied in any order, with any duplicates,
 * gives the same state. In memory; the store persists what it produces.
 */
import type { HybridClock } from '../clock/hlc.ts';
import { compareStamps } from '../clock/stamp.ts';
import { valueKey } from '../codec/value-key.ts';
import { IdentityReusedError, StrategyMismatchError, ValidationError } from '../errors.ts';
import type { NodeId } from '../identity/node-id.ts';
import type { FieldOp, Op, OpKind, Strategy } from '../ops/op.ts';
import { validateName, validateRecordId, validateValue } from '../values/validate.ts';
import type { Value, ValueMap } from '../values/value.ts';
import { FieldState } from './field-state.ts';
import { type Conflict, RecordState } from './record-state.ts';
import { encodeRecordState } from './state-codec.ts';
import { VersionVector } from './version-vector.ts';

/** System collection holding field strategy declarations: record id = collection name. */
export const SCHEMA_COLLECTION = '_schema';
const STRATEGIES: readonly Strategy[] = ['lww', 'mv', 'counter', 'set'];

/** Where record states not in memory come from (the store). */
export interface RecordSource {
  /** The merge state of a record, or undefined if no op has touched it. */
  load(collection: string, id: string): RecordState | undefined;
}

/** A record changed since the last `takeChanges()`, with what it showed before. */
export interface RecordChange {
  readonly collection: string;
  readonly id: string;
  readonly state: RecordState;
  /** Undefined also when the owner said it does not need it (`needsBefore`). */
  readonly before: Record<string, Value> | undefined;
  /** Whether any op had touched the record before (see RecordState.held). */
  readonly wasHeld: boolean;
  /**
   * The record's state before this change, encoded, when that state was also its base state
   * (RecordState.baseIsState): the owner stores it as the base, since the state moves on.
   */
  readonly baseBefore?: Uint8Array;
}

export interface ReplicaInit {
  nodeId: NodeId;
  clock: HybridClock;
  /** The last sequence number this node already used (after a restart). */
  lastSeq?: number;
  /** Loads record states on demand; without it every record lives in memory. */
  source?: RecordSource;
  /** The version vector to start from (after a restart). */
  version?: VersionVector;
  /** Record what each apply changes, for `takeChanges()` (the store needs it). */
  trackChanges?: boolean;
  /**
   * Whether a change to a record of `collection` needs what the record showed before (for
   * index maintenance and live queries). Computing it costs a view per write. Default: yes.
   */
  needsBefore?: (collection: string) => boolean;
  /**
   * Whether the op with this dot was applied here, when that differs from the version vector:
   * a partial replica's vector also counts dots it skipped (their ops never came).
   */
  applied?: (node: NodeId, seq: number) => boolean;
}

export class Replica {
  #nodeId: NodeId;
  readonly #clock: HybridClock;
  #seq: number;
  /** Highest seq of our own id that another replica holds, when above ours (identity reused). */
  #reusedAt = 0;
  readonly version: VersionVector;
  /** Every record when there is no source; otherwise a cache the owner trims (`evictClean`). */
  readonly #collections = new Map<string, Map<string, RecordState>>();
  readonly #source: RecordSource | undefined;
  readonly #changes = new Map<RecordState, RecordChange>();
  readonly #trackChanges: boolean;
  /** Declared strategies per collection, read once from `_schema` and dropped when it changes. */
  readonly #declarations = new Map<string, Record<string, Value>>();
  readonly #needsBefore: (collection: string) => boolean;
  #cached = 0;
  readonly #seen: (node: NodeId, seq: number) => boolean;

  constructor(init: ReplicaInit) {
    this.#nodeId = init.nodeId;
    this.#clock = init.clock;
    this.#seq = init.lastSeq ?? 0;
    this.#source = init.source;
    this.version = init.version ?? new VersionVector();
    this.#trackChanges = init.trackChanges ?? false;
    this.#needsBefore = init.needsBefore ?? (() => true);
    this.#seen = init.applied ?? ((node, seq) => this.version.has(node, seq));
  }

  get nodeId(): NodeId {
    return this.#nodeId;
  }

  /** The last sequence number this node used. */
  get lastSeq(): number {
    return this.#seq;
  }

  /** True when another replica holds ops of this node id beyond this store's own. */
  get identityReused(): boolean {
    return this.#reusedAt > 0;
  }

  // ---- merging ----

  /**
   * Applies an op; returns false (and changes nothing) if it was applied before. `skipped`:
   * the caller knows the vector counts this dot only because it was skipped (partial replicas).
   */
  apply(op: Op, skipped = false): boolean {
    if (!skipped && this.version.has(op.node, op.seq)) return false;
    if (op.node === this.#nodeId) {
      if (op.seq > this.#seq) this.#reusedAt = Math.max(this.#reusedAt, op.seq);
    } else {
      this.#clock.observe(op, op.node);
    }
    if (op.collection === SCHEMA_COLLECTION) this.#declarations.delete(op.record);
    const record = this.#recordFor(op.collection, op.record);
    this.#track(op.collection, op.record, record);
    switch (op.kind) {
      case 'insert':
        if (record.insert === undefined || compareStamps(op, record.insert) > 0) record.insert = op;
        break;
      case 'delete':
        if (record.tombstone === undefined || compareStamps(op, record.tombstone) > 0) record.tombstone = op;
        break;
    }
    for (const f of op.fields) {
      let field = record.fields.get(f.field);
      if (field === undefined) {
        field = new FieldState();
        record.fields.set(f.field, field);
      }
      const key = f.type === 'add' || f.type === 'remove' ? valueKey(f.value) : undefined;
      field.apply(op, f, this.#seen, key);
    }
    this.version.add(op.node, op.seq);
    return true;
  }

  /**
   * Replaces a record's merge state (a partial replica rebuilding a record that entered its
   * filter, or dropping one that left it). The change is tracked like an applied op's.
   */
  replaceRecord(collection: string, id: string, state: RecordState): void {
    if (collection === SCHEMA_COLLECTION) this.#declarations.delete(id);
    const record = this.#recordFor(collection, id);
    // Whoever replaces a state sets its base too (baseIsState, or a stored copy).
    this.#track(collection, id, record, false);
    record.fields.clear();
    for (const [name, field] of state.fields) record.fields.set(name, field);
    record.insert = state.insert;
    record.tombstone = state.tombstone;
    record.baseIsState = state.baseIsState;
  }

  /** Marks a record changed without changing it (its owner re-derives what it stores). */
  touch(collection: string, id: string): void {
    const record = this.recordState(collection, id);
    if (record) this.#track(collection, id, record);
  }

  #track(collection: string, id: string, record: RecordState, keepBase = true): void {
    if (!this.#trackChanges || this.#changes.has(record)) return;
    const before = this.#needsBefore(collection) ? record.view() : undefined;
    let baseBefore: Uint8Array | undefined;
    if (record.baseIsState && keepBase) {
      record.baseIsState = false;
      baseBefore = encodeRecordState(record);
    }
    this.#changes.set(record, { collection, id, state: record, before, wasHeld: record.held, ...(baseBefore ? { baseBefore } : {}) });
  }

  /** Records that a peer holds `seq` of `node` (from its version vector): detects identity reuse. */
  noteRemoteSeq(node: NodeId, seq: number): void {
    if (node === this.#nodeId && seq > this.#seq) this.#reusedAt = Math.max(this.#reusedAt, seq);
  }

  /** Takes a new node id after `identityReused`; later local ops are issued under it from seq 1. */
  adoptIdentity(nodeId: NodeId): void {
    this.#nodeId = nodeId;
    this.#seq = this.version.highest(nodeId);
    this.#reusedAt = 0;
  }

  /** The records changed since the last call, each once; the owner persists them. */
  takeChanges(): RecordChange[] {
    const changes = [...this.#changes.values()];
    this.#changes.clear();
    return changes;
  }

  /**
   * With a source to reload from: when more than `keep` records are cached, drops those with
   * no untaken changes.
   */
  evictClean(keep = 0): void {
    if (!this.#source || this.#cached <= keep) return;
    for (const [collection, records] of this.#collections) {
      for (const [id, record] of records) {
        if (this.#changes.has(record)) continue;
        records.delete(id);
        this.#cached--;
      }
      if (records.size === 0) this.#collections.delete(collection);
    }
  }

  // ---- reading ----

  get(collection: string, id: string): Record<string, Value> | undefined {
    return this.recordState(collection, id)?.view();
  }

  /** Ids of the records in memory that exist in `collection` (all of them without a source). */
  *ids(collection: string): IterableIterator<string> {
    for (const [id, record] of this.#collections.get(collection) ?? []) if (record.visible) yield id;
  }

  conflicts(collection: string, id: string): Conflict[] {
    return this.recordState(collection, id)?.conflicts() ?? [];
  }

  /** The merge state of a record, if any op touched it. */
  recordState(collection: string, id: string): RecordState | undefined {
    const cached = this.#collections.get(collection)?.get(id);
    if (cached || !this.#source) return cached;
    const loaded = this.#source.load(collection, id);
    if (loaded) this.#cache(collection, id, loaded);
    return loaded;
  }

  /** The declared strategy of a field, if the collection declares one. */
  strategyOf(collection: string, field: string): Strategy | undefined {
    let declared = this.#declarations.get(collection);
    if (declared === undefined) {
      declared = this.get(SCHEMA_COLLECTION, collection) ?? {};
      this.#declarations.set(collection, declared);
    }
    const strategy = declared[field];
    return STRATEGIES.includes(strategy as Strategy) ? (strategy as Strategy) : undefined;
  }

  // ---- local writes: each builds one op, applies it, and returns it ----

  insert(collection: string, id: string, fields: ValueMap): Op {
    checkTarget(collection, id);
    const ops: FieldOp[] = [];
    for (const [field, value] of entriesOf(fields)) {
      const strategy = this.strategyOf(collection, field) ?? 'lww';
      ops.push(...this.#initialFieldOps(collection, id, field, value, strategy));
    }
    return this.#commit(collection, id, 'insert', ops);
  }

  update(collection: string, id: string, fields: ValueMap): Op {
    checkTarget(collection, id);
    const ops: FieldOp[] = [];
    for (const [field, value] of entriesOf(fields)) {
      const strategy = this.strategyOf(collection, field) ?? 'lww';
      if (strategy === 'lww') ops.push({ type: 'set', field, value });
      else if (strategy === 'mv') ops.push({ type: 'mvset', field, value, observed: this.#mvDots(collection, id, field) });
      else throw new StrategyMismatchError(collection, field, strategy, 'set');
    }
    if (ops.length === 0) throw new ValidationError('fields', 'an update changes at least one field');
    return this.#commit(collection, id, 'update', ops);
  }

  delete(collection: string, id: string): Op {
    checkTarget(collection, id);
    return this.#commit(collection, id, 'delete', []);
  }

  /** Removes a field (last writer wins against concurrent sets). */
  unset(collection: string, id: string, field: string): Op {
    checkTarget(collection, id);
    validateName(field, 'field', 'field name');
    this.#expectStrategy(collection, field, 'lww', 'unset');
    return this.#commit(collection, id, 'update', [{ type: 'unset', field }]);
  }

  increment(collection: string, id: string, field: string, delta: number): Op {
    checkTarget(collection, id);
    validateName(field, 'field', 'field name');
    if (!Number.isSafeInteger(delta)) throw new ValidationError(field, 'a counter increment is a safe integer');
    this.#expectStrategy(collection, field, 'counter', 'inc');
    return this.#commit(collection, id, 'update', [{ type: 'inc', field, delta }]);
  }

  addToSet(collection: string, id: string, field: string, value: Value): Op {
    checkTarget(collection, id);
    validateName(field, 'field', 'field name');
    validateValue(value, field);
    this.#expectStrategy(collection, field, 'set', 'add');
    return this.#commit(collection, id, 'update', [{ type: 'add', field, value }]);
  }

  removeFromSet(collection: string, id: string, field: string, value: Value): Op {
    checkTarget(collection, id);
    validateName(field, 'field', 'field name');
    validateValue(value, field);
    this.#expectStrategy(collection, field, 'set', 'remove');
    const observed = this.recordState(collection, id)?.fields.get(field)?.elementDots(valueKey(value)) ?? [];
    return this.#commit(collection, id, 'update', [{ type: 'remove', field, value, observed }]);
  }

  /** Settles a multi-value field: one value, replacing every value it has now. */
  resolve(collection: string, id: string, field: string, value: Value): Op {
    checkTarget(collection, id);
    validateName(field, 'field', 'field name');
    validateValue(value, field);
    this.#expectStrategy(collection, field, 'mv', 'mvset');
    const observed = this.#mvDots(collection, id, field);
    return this.#commit(collection, id, 'update', [{ type: 'mvset', field, value, observed }]);
  }

  /**
   * Issues one op of arbitrary field ops (undo uses it). Values and names are validated;
   * declared strategies are not enforced, since compensating ops mirror existing ones.
   */
  writeFields(collection: string, id: string, kind: OpKind, fields: readonly FieldOp[]): Op {
    checkTarget(collection, id);
    for (const f of fields) {
      validateName(f.field, 'field', 'field name');
      if ('value' in f) validateValue(f.value, f.field);
      if (f.type === 'inc' && !Number.isSafeInteger(f.delta)) throw new ValidationError(f.field, 'a counter increment is a safe integer');
    }
    return this.#commit(collection, id, kind, [...fields]);
  }

  /** Declares merge strategies for fields of a collection. Declarations replicate like data. */
  declare(collection: string, strategies: Readonly<Record<string, Strategy>>): Op {
    checkTarget(collection, collection);
    const ops: FieldOp[] = [];
    for (const [field, strategy] of entriesOf(strategies)) {
      if (!STRATEGIES.includes(strategy)) {
        throw new ValidationError(field, `unknown strategy '${String(strategy)}' (one of ${STRATEGIES.join(', ')})`);
      }
      ops.push({ type: 'set', field, value: strategy });
    }
    const exists = this.get(SCHEMA_COLLECTION, collection) !== undefined;
    return this.#commit(SCHEMA_COLLECTION, collection, exists ? 'update' : 'insert', ops);
  }

  #initialFieldOps(collection: string, id: string, field: string, value: Value, strategy: Strategy): FieldOp[] {
    switch (strategy) {
      case 'lww':
        return [{ type: 'set', field, value }];
      case 'mv':
        return [{ type: 'mvset', field, value, observed: this.#mvDots(collection, id, field) }];
      case 'counter':
        if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
          throw new ValidationError(field, 'a counter field starts from a safe integer');
        }
        return [{ type: 'inc', field, delta: value }];
      case 'set': {
        if (!Array.isArray(value)) throw new ValidationError(field, 'a set field starts from an array');
        const seen = new Set<string>();
        const ops: FieldOp[] = [];
        for (const element of value as Value[]) {
          const key = valueKey(element);
          if (!seen.has(key)) ops.push({ type: 'add', field, value: element });
          seen.add(key);
        }
        return ops;
      }
    }
  }

  #mvDots(collection: string, id: string, field: string) {
    return this.recordState(collection, id)?.fields.get(field)?.mvDots() ?? [];
  }

  #expectStrategy(collection: string, field: string, strategy: Strategy, attempted: string): void {
    const declared = this.strategyOf(collection, field);
    if (declared !== undefined && declared !== strategy) {
      throw new StrategyMismatchError(collection, field, declared, attempted);
    }
  }

  #commit(collection: string, record: string, kind: OpKind, fields: FieldOp[]): Op {
    if (this.#reusedAt > 0) throw new IdentityReusedError(this.#nodeId, this.#seq, this.#reusedAt);
    const { wall, counter } = this.#clock.now();
    const op: Op = { node: this.#nodeId, seq: this.#seq + 1, wall, counter, collection, record, kind, fields };
    this.#seq++;
    this.apply(op);
    return op;
  }

  #recordFor(collection: string, id: string): RecordState {
    let record = this.recordState(collection, id);
    if (record === undefined) {
      record = new RecordState();
      this.#cache(collection, id, record);
    }
    return record;
  }

  #cache(collection: string, id: string, record: RecordState): void {
    let records = this.#collections.get(collection);
    if (records === undefined) {
      records = new Map();
      this.#collections.set(collection, records);
    }
    records.set(id, record);
    this.#cached++;
  }
}

function checkTarget(collection: string, id: string): void {
  validateName(collection, 'collection', 'collection name');
  validateRecordId(id);
}

/** Validated field entries of a write. */
function entriesOf<T>(fields: Readonly<Record<string, T>>): [string, T][] {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new ValidationError('fields', 'fields must be a plain object');
  }
  const entries = Object.entries(fields);
  for (const [name, value] of entries) {
    validateName(name, name, 'field name');
    validateValue(value, name);
  }
  return entries;
}
