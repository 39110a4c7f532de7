/**
 * The newest committed ops of each origin, decoded, for sync sessions: a relay's hundred
 * sessions each read every new op from the log (and decoded it) once per session; a quarter of
 * its time went there. Each origin's entry is a contiguous run of seqs, so a read that starts
 * inside it is answered exactly as the log would answer it; any other read goes to the log.
 */
import type { Op } from '../ops/op.ts';

interface Tail {
  /** Seq of ops[0]; the run is from, from + 1, ... with no gap. */
  from: number;
  ops: Op[];
  /** Stored (encoded) size of each op, for reads bounded by bytes. */
  sizes: number[];
}

export class OpTailCache {
  readonly #tails = new Map<string, Tail>();
  #size = 0;
  #limit: number;

  /** `limit`: ops kept over all origins (0: none). */
  constructor(limit: number) {
    this.#limit = limit;
  }

  set limit(limit: number) {
    this.#limit = limit;
    this.#trim();
  }

  /** A committed op of `op.node`, `size` bytes stored. Ops of an origin come in seq order. */
  add(op: Op, size: number): void {
    if (this.#limit === 0) return;
    let tail = this.#tails.get(op.node);
    if (tail && tail.from + tail.ops.length !== op.seq) {
      // Not the next one (ops written by another process, a gap): start the run again here.
      this.#size -= tail.ops.length;
      tail = undefined;
    }
    if (!tail) tail = { from: op.seq, ops: [], sizes: [] };
    // Most recently written last: trimming starts with origins that went quiet.
    this.#tails.delete(op.node);
    this.#tails.set(op.node, tail);
    tail.ops.push(op);
    tail.sizes.push(size);
    this.#size++;
    this.#trim();
  }

  /**
   * Like Engine.opsAfter, or undefined when the run does not hold seq + 1 (then ask the log).
   * The ops are shared: do not modify them.
   */
  opsAfter(node: string, seq: number, limit: number, maxBytes: number, upTo: number): Op[] | undefined {
    const tail = this.#tails.get(node);
    if (!tail) return undefined;
    const start = seq + 1 - tail.from;
    if (start < 0 || start >= tail.ops.length) return undefined;
    const out: Op[] = [];
    let bytes = 0;
    for (let i = start; i < tail.ops.length && out.length < limit; i++) {
      const op = tail.ops[i] as Op;
      if (op.seq > upTo) break;
      bytes += tail.sizes[i] as number;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(op);
    }
    return out;
  }

  /** Drops every run (the log changed under it). */
  clear(): void {
    this.#tails.clear();
    this.#size = 0;
  }

  /** Drops `node`'s ops through `throughSeq` (compaction removed them from the log). */
  forget(node: string, throughSeq: number): void {
    const tail = this.#tails.get(node);
    if (tail && throughSeq >= tail.from) this.#dropFront(node, tail, throughSeq - tail.from + 1);
  }

  /** Over the limit: down to 90% of it, oldest first (in steps, so arrays are not shifted per op). */
  #trim(): void {
    if (this.#size <= this.#limit) return;
    const target = Math.floor(this.#limit * 0.9);
    while (this.#size > target) {
      const [node, tail] = this.#tails.entries().next().value as [string, Tail];
      this.#dropFront(node, tail, this.#size - target);
    }
  }

  /** Drops the first `count` ops of `node`'s run (all of it if it holds fewer). */
  #dropFront(node: string, tail: Tail, count: number): void {
    const drop = Math.min(tail.ops.length, count);
    tail.ops.splice(0, drop);
    tail.sizes.splice(0, drop);
    tail.from += drop;
    this.#size -= drop;
    if (tail.ops.length === 0) this.#tails.delete(node);
  }
}
