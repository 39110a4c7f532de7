/**
 * Void dots: ops a relay rejected under its write rules (docs/relay.md, Write rules). A void dot
 * is counted in the version vector like any other, its op is never applied (or its effects are
 * removed where it was), and it is never applied again if a peer sends it later. Kept per origin
 * as merged ranges in the store's meta, so a flood of rejected writes from one device stays one
 * range.
 */

import { Decoder, readVarUint } from '../codec/decoder.ts';
import { Encoder, writeVarUint } from '../codec/encoder.ts';
import type { NodeId } from '../identity/node-id.ts';
import type { Storage } from '../storage/storage.ts';

const PREFIX = 'void:';

export interface DotRange {
  readonly node: NodeId;
  readonly from: number;
  readonly to: number;
}

/** Ranges of one origin, sorted and merged (no two touch). */
type Ranges = { from: number; to: number }[];

export class VoidSet {
  readonly #byNode = new Map<NodeId, Ranges>();
  readonly #changed = new Set<NodeId>();

  /** Loads every origin's void ranges from the store. */
  static load(storage: Storage): VoidSet {
    const set = new VoidSet();
    for (const [key, bytes] of storage.scanMeta(PREFIX)) {
      const d = new Decoder(bytes);
      const ranges: Ranges = [];
      const n = readVarUint(d);
      for (let i = 0; i < n; i++) {
        const from = readVarUint(d);
        ranges.push({ from, to: from + readVarUint(d) });
      }
      set.#byNode.set(key.slice(PREFIX.length) as NodeId, ranges);
    }
    return set;
  }

  get size(): number {
    return this.#byNode.size;
  }

  has(node: NodeId, seq: number): boolean {
    return this.rangeAt(node, seq) !== undefined;
  }

  /** The void range holding this dot, if any. */
  rangeAt(node: NodeId, seq: number): DotRange | undefined {
    const ranges = this.#byNode.get(node);
    if (!ranges) return undefined;
    let lo = 0;
    let hi = ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = ranges[mid] as { from: number; to: number };
      if (seq < r.from) hi = mid - 1;
      else if (seq > r.to) lo = mid + 1;
      else return { node, from: r.from, to: r.to };
    }
    return undefined;
  }

  /**
   * Adds dots from..to of `node`; returns the parts of it that were not void before, ascending.
   * Costs the number of ranges the origin has, whatever the length of the range.
   */
  add(node: NodeId, from: number, to: number): { from: number; to: number }[] {
    const ranges = this.#byNode.get(node) ?? [];
    const fresh: { from: number; to: number }[] = [];
    let next = from;
    for (const r of ranges) {
      if (r.to < next) continue;
      if (r.from > to) break;
      if (r.from > next) fresh.push({ from: next, to: r.from - 1 });
      next = r.to + 1;
      if (next > to) break;
    }
    if (next <= to) fresh.push({ from: next, to });
    if (fresh.length === 0) return fresh;
    // Merged in place: the new range swallows every range it touches.
    let lo = from;
    let hi = to;
    const kept: Ranges = [];
    for (const r of ranges) {
      if (r.to + 1 < lo || r.from > hi + 1) kept.push(r);
      else {
        lo = Math.min(lo, r.from);
        hi = Math.max(hi, r.to);
      }
    }
    kept.push({ from: lo, to: hi });
    kept.sort((a, b) => a.from - b.from);
    this.#byNode.set(node, kept);
    this.#changed.add(node);
    return fresh;
  }

  /** Every void range, by origin. */
  ranges(): DotRange[] {
    const out: DotRange[] = [];
    for (const [node, ranges] of this.#byNode) for (const r of ranges) out.push({ node, from: r.from, to: r.to });
    return out;
  }

  /** Writes the origins that changed since the last save (inside the caller's transaction). */
  save(storage: Storage): void {
    for (const node of this.#changed) {
      const ranges = this.#byNode.get(node) ?? [];
      const e = new Encoder(8 + ranges.length * 6);
      writeVarUint(e, ranges.length);
      for (const r of ranges) {
        writeVarUint(e, r.from);
        writeVarUint(e, r.to - r.from);
      }
      storage.setMeta(`${PREFIX}${node}`, e.finish());
    }
    this.#changed.clear();
  }
}
