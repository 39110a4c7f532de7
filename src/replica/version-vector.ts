/**
 * Version vector over dots: for each origin node, the dots seen. Normally a contiguous prefix
 * 1..n per origin; dots that arrive out of order wait in a per-origin set until the gap fills,
 * so `has` is exact whatever the delivery order.
 */
import type { NodeId } from '../identity/node-id.ts';

export class VersionVector {
  readonly #max = new Map<NodeId, number>();
  readonly #ahead = new Map<NodeId, Set<number>>();

  has(node: NodeId, seq: number): boolean {
    const max = this.#max.get(node) ?? 0;
    if (seq <= max) return true;
    return this.#ahead.get(node)?.has(seq) ?? false;
  }

  add(node: NodeId, seq: number): void {
    const max = this.#max.get(node) ?? 0;
    if (seq <= max) return;
    if (seq !== max + 1) {
      let ahead = this.#ahead.get(node);
      if (!ahead) {
        ahead = new Set();
        this.#ahead.set(node, ahead);
      }
      ahead.add(seq);
      return;
    }
    let next = seq;
    const ahead = this.#ahead.get(node);
    if (ahead) {
      while (ahead.delete(next + 1)) next++;
      if (ahead.size === 0) this.#ahead.delete(node);
    }
    this.#max.set(node, next);
  }

  /** Adds the dots from..to of `node` (skipped ranges can be long: contiguous ones are O(1)). */
  addRange(node: NodeId, from: number, to: number): void {
    const max = this.#max.get(node) ?? 0;
    if (from <= max + 1 && to > max && !this.#ahead.has(node)) {
      this.#max.set(node, to);
      return;
    }
    for (let seq = Math.max(from, max + 1); seq <= to; seq++) this.add(node, seq);
  }

  /** Sets what is known of `node` (when loading from the store). */
  restore(node: NodeId, max: number, ahead: readonly number[] = []): void {
    if (max > 0) this.#max.set(node, max);
    else this.#max.delete(node);
    if (ahead.length > 0) this.#ahead.set(node, new Set(ahead));
    else this.#ahead.delete(node);
  }

  /** Dots of `node` seen beyond its gap, ascending. */
  aheadOf(node: NodeId): number[] {
    return [...(this.#ahead.get(node) ?? [])].sort((a, b) => a - b);
  }

  /** Highest seq of `node` such that every dot 1..seq was seen. */
  get(node: NodeId): number {
    return this.#max.get(node) ?? 0;
  }

  /** Highest seq seen of `node`, counting dots beyond a gap. */
  highest(node: NodeId): number {
    const ahead = this.#ahead.get(node);
    let high = this.#max.get(node) ?? 0;
    if (ahead) for (const s of ahead) if (s > high) high = s;
    return high;
  }

  /** True while some origin has a gap (dots seen beyond a missing one). */
  hasGaps(): boolean {
    return this.#ahead.size > 0;
  }

  /**
   * Contiguous prefixes, live: it changes as dots are added, so read it at once (copy it to
   * keep it). What sync sessions read on every frame and ACK, without a copy each time.
   */
  view(): ReadonlyMap<NodeId, number> {
    return this.#max;
  }

  /** Contiguous prefixes as a map (a copy, unsorted: cheaper than `entries` on hot paths). */
  toMap(): Map<NodeId, number> {
    return new Map(this.#max);
  }

  /** Contiguous prefixes, sorted by node id. */
  entries(): [NodeId, number][] {
    return [...this.#max.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries(this.entries());
  }
}
