/**
 * Skipped dot ranges being gathered into one SKIP, merged per origin: a batch the pump judges,
 * a skipped commit, and a session's deferred skips. A relay session collects them from every
 * origin that writes (hundreds), so adding finds the origin's last range by lookup, not by
 * scanning the list.
 */
import type { NodeId } from '../identity/node-id.ts';
import type { SkipRange } from './messages.ts';

export class SkipRanges {
  #ranges: SkipRange[] = [];
  /** Per origin, the index of its last range in #ranges. */
  #last = new Map<NodeId, number>();

  get size(): number {
    return this.#ranges.length;
  }

  /** Adds a range, extending the origin's last one when it continues it. */
  add(range: SkipRange): void {
    const at = this.#last.get(range.node);
    const last = at === undefined ? undefined : this.#ranges[at];
    if (at !== undefined && last && last.to + 1 === range.from) {
      this.#ranges[at] = { node: range.node, from: last.from, to: range.to };
      return;
    }
    this.#last.set(range.node, this.#ranges.length);
    this.#ranges.push(range);
  }

  /** Every range, in the order added (each origin's in seq order); empties the set. */
  take(): SkipRange[] {
    const ranges = this.#ranges;
    this.#ranges = [];
    this.#last.clear();
    return ranges;
  }
}
