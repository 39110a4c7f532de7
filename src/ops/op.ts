/**
 * Ops: the immutable, field-level changes that make up a replica's history.
 *
 * Every op has a dot `(node, seq)`: its origin node and that node's 1-based sequence number,
 * and a hybrid logical clock stamp `(wall, counter)` whose tiebreak is the same `node`.
 * It names one record and carries only the fields it changes.
 */
import type { NodeId } from '../identity/node-id.ts';
import type { Value } from '../values/value.ts';

export type OpKind = 'insert' | 'update' | 'delete';

/** A reference to one op. */
export interface Dot {
  readonly node: NodeId;
  readonly seq: number;
}

/** Last-writer-wins register write. The default for fields without a declared strategy. */
export interface SetOp {
  readonly type: 'set';
  readonly field: string;
  readonly value: Value;
}

/** Last-writer-wins removal of the field: it shows nothing until a later write. */
export interface UnsetOp {
  readonly type: 'unset';
  readonly field: string;
}

/**
 * Multi-value register write. `observed` lists the dots of the values this write replaces;
 * values written concurrently survive side by side and are reported as a conflict.
 * A resolve is a write that observes every current value.
 */
export interface MvSetOp {
  readonly type: 'mvset';
  readonly field: string;
  readonly value: Value;
  readonly observed: readonly Dot[];
}

/** Counter increment (negative to decrement). Integer, so sums are exact on every replica. */
export interface IncOp {
  readonly type: 'inc';
  readonly field: string;
  readonly delta: number;
}

/** Add-wins set: add an element, tagged by this op's dot. */
export interface AddOp {
  readonly type: 'add';
  readonly field: string;
  readonly value: Value;
}

/** Add-wins set: remove the element's add tags this writer observed. Concurrent adds survive. */
export interface RemoveOp {
  readonly type: 'remove';
  readonly field: string;
  readonly value: Value;
  readonly observed: readonly Dot[];
}

export type FieldOp = SetOp | UnsetOp | MvSetOp | IncOp | AddOp | RemoveOp;
export type FieldOpType = FieldOp['type'];

export interface Op {
  readonly node: NodeId;
  readonly seq: number;
  /** HLC wall component, ms since the Unix epoch. */
  readonly wall: number;
  /** HLC logical counter. */
  readonly counter: number;
  readonly collection: string;
  readonly record: string;
  readonly kind: OpKind;
  /** Empty for a delete. */
  readonly fields: readonly FieldOp[];
}

/** The CRDT a field op belongs to. */
export type Strategy = 'lww' | 'mv' | 'counter' | 'set';

export function strategyOfOp(type: FieldOpType): Strategy {
  switch (type) {
    case 'set':
    case 'unset':
      return 'lww';
    case 'mvset':
      return 'mv';
    case 'inc':
      return 'counter';
    case 'add':
    case 'remove':
      return 'set';
  }
}

export function dotKey(node: NodeId, seq: number): string {
  return `${node}:${seq}`;
}
