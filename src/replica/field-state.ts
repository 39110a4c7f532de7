/**
 * The merge state of one field of one record, and the per-field CRDT rules.
 *
 * A field keeps one sub-state per CRDT type that has ever written to it:
 * - lww: last-writer-wins register, the highest stamp wins (stamps are unique per op);
 * - mv: multi-value register, keeps every value no later write observed (a conflict when > 1);
 * - counter: per-origin increments, summed;
 * - set: add-wins observed-remove set, each element with the dots of the adds that put it there.
 * Which sub-state the field shows is decided by the op with the highest stamp ("latest type
 * wins"), a rule every replica computes alike whatever the delivery order (docs/crdt.md).
 *
 * Everything visible is filtered by the record's tombstone stamp: parts written at or before the
 * latest delete are hidden.
 */
import { compareStamps, type Stamp } from '../clock/stamp.ts';
import type { NodeId } from '../identity/node-id.ts';
import { type Dot, dotKey, type FieldOp, type Op, type Strategy, strategyOfOp } from '../ops/op.ts';
import type { Value } from '../values/value.ts';

/** A value written by one op, with that op's stamp and dot. */
export interface StampedValue extends Stamp {
  readonly seq: number;
  readonly value: Value;
}

/** The LWW register: a value, or the field's removal (`absent`), with its writer's stamp. */
export interface LwwEntry extends StampedValue {
  readonly absent?: true;
}

export interface CounterIncrement extends Stamp {
  readonly delta: number;
}

export interface SetElement {
  readonly value: Value;
  /** The add ops that put the element in the set and no remove has observed. */
  tags: StampedValue[];
}

/** Answers whether the replica has already applied the op with this dot. */
export type SeenDot = (node: NodeId, seq: number) => boolean;

/** What a field shows: its value, and every concurrent value when it is in conflict. */
export interface FieldView {
  readonly value: Value;
  readonly conflict?: readonly Value[];
}

const stampGreater = (a: Stamp, b: Stamp | undefined): boolean => b === undefined || compareStamps(a, b) > 0;

export class FieldState {
  /** Stamp and strategy of the highest-stamped op on this field. */
  latest: Stamp | undefined;
  latestStrategy: Strategy = 'lww';

  lww: LwwEntry | undefined;
  mv: StampedValue[] | undefined;
  counter: CounterIncrement[] | undefined;
  set: Map<string, SetElement> | undefined;
  /** Dots (mv) or element|dot keys (set) that a write observed before they arrived here. */
  suppressed: Set<string> | undefined;

  /**
   * Applies one field op of `op`. `elementKey` is the set element's canonical key (add and
   * remove only). Field ops of one op are applied in their order, so ties between two field ops
   * of the same op go to the later one on every replica.
   */
  apply(op: Op, f: FieldOp, seen: SeenDot, elementKey: string | undefined): void {
    if (this.latest === undefined || compareStamps(op, this.latest) >= 0) {
      this.latest = op;
      this.latestStrategy = strategyOfOp(f.type);
    }
    switch (f.type) {
      case 'set':
        if (this.lww === undefined || compareStamps(op, this.lww) >= 0) this.lww = stamped(op, f.value);
        return;
      case 'unset':
        if (this.lww === undefined || compareStamps(op, this.lww) >= 0) this.lww = { ...stamped(op, null), absent: true };
        return;
      case 'mvset':
        this.#applyMvSet(op, f.value, f.observed, seen);
        return;
      case 'inc':
        this.counter ??= [];
        this.counter.push({ wall: op.wall, counter: op.counter, node: op.node, delta: f.delta });
        return;
      case 'add':
        this.#applyAdd(op, f.value, elementKey as string);
        return;
      case 'remove':
        this.#applyRemove(f.observed, elementKey as string, seen);
        return;
    }
  }

  #applyMvSet(op: Op, value: Value, observed: readonly Dot[], seen: SeenDot): void {
    this.mv ??= [];
    const entries = this.mv;
    for (const dot of observed) {
      const at = entries.findIndex((e) => e.node === dot.node && e.seq === dot.seq);
      if (at >= 0) entries.splice(at, 1);
      else if (!seen(dot.node, dot.seq)) this.#suppress(dotKey(dot.node, dot.seq));
    }
    if (this.suppressed?.delete(dotKey(op.node, op.seq))) return;
    entries.push(stamped(op, value));
  }

  #applyAdd(op: Op, value: Value, key: string): void {
    if (this.suppressed?.delete(`${key}|${dotKey(op.node, op.seq)}`)) return;
    this.set ??= new Map();
    let element = this.set.get(key);
    if (!element) {
      element = { value, tags: [] };
      this.set.set(key, element);
    }
    element.tags.push(stamped(op, value));
  }

  #applyRemove(observed: readonly Dot[], key: string, seen: SeenDot): void {
    const element = this.set?.get(key);
    for (const dot of observed) {
      const at = element ? element.tags.findIndex((t) => t.node === dot.node && t.seq === dot.seq) : -1;
      if (at >= 0) element?.tags.splice(at, 1);
      else if (!seen(dot.node, dot.seq)) this.#suppress(`${key}|${dotKey(dot.node, dot.seq)}`);
    }
    if (element && element.tags.length === 0) this.set?.delete(key);
  }

  /** Remembers that a write observed this (mv dot or set element tag) before it arrived. */
  #suppress(key: string): void {
    this.suppressed ??= new Set();
    this.suppressed.add(key);
  }

  /** The dots of the current mv values (what a write that replaces them all observes). */
  mvDots(): Dot[] {
    return (this.mv ?? []).map(({ node, seq }) => ({ node, seq }));
  }

  /** The dots of an element's current add tags (what a remove observes). */
  elementDots(key: string): Dot[] {
    return (this.set?.get(key)?.tags ?? []).map(({ node, seq }) => ({ node, seq }));
  }

  /** What the field shows given the record's tombstone, or undefined when it shows nothing. */
  view(tombstone: Stamp | undefined): FieldView | undefined {
    if (this.latest === undefined || !stampGreater(this.latest, tombstone)) return undefined;
    switch (this.latestStrategy) {
      case 'lww':
        return this.lww && !this.lww.absent && stampGreater(this.lww, tombstone) ? { value: this.lww.value } : undefined;
      case 'mv':
        return this.#viewMv(tombstone);
      case 'counter':
        return { value: counterSum(this.counter ?? [], tombstone) };
      case 'set': {
        const live: [string, Value][] = [];
        for (const [key, element] of this.set ?? []) {
          if (element.tags.some((t) => stampGreater(t, tombstone))) live.push([key, element.value]);
        }
        live.sort((a, b) => (a[0] < b[0] ? -1 : 1));
        return { value: live.map(([, value]) => value) };
      }
    }
  }

  #viewMv(tombstone: Stamp | undefined): FieldView | undefined {
    const live = (this.mv ?? []).filter((e) => stampGreater(e, tombstone));
    if (live.length === 0) return undefined;
    live.sort((a, b) => compareStamps(b, a));
    const winner = (live[0] as StampedValue).value;
    return live.length === 1 ? { value: winner } : { value: winner, conflict: live.map((e) => e.value) };
  }
}

function stamped(op: Op, value: Value): StampedValue {
  return { wall: op.wall, counter: op.counter, node: op.node, seq: op.seq, value };
}

/**
 * The exact sum of the live increments. Doubles add exactly while every partial sum stays
 * within 2^53; past that, order would matter (replicas apply in different orders), so the sum
 * is redone in BigInt and rounded once, the same on every replica.
 */
function counterSum(increments: readonly CounterIncrement[], tombstone: Stamp | undefined): number {
  let sum = 0;
  let exact = true;
  for (const inc of increments) {
    if (!stampGreater(inc, tombstone)) continue;
    sum += inc.delta;
    if (!Number.isSafeInteger(sum)) exact = false;
  }
  if (exact) return sum;
  let big = 0n;
  for (const inc of increments) if (stampGreater(inc, tombstone)) big += BigInt(inc.delta);
  return Number(big);
}
