/** Version vectors as plain maps (origin -> highest contiguous seq), and the lattice operations GC needs. */
import type { NodeId } from '../identity/node-id.ts';

export type Vector = ReadonlyMap<NodeId, number>;

/** The origins every vector holds, each at the lowest seq any of them holds: what all of them have. */
export function pointwiseMin(vectors: readonly Vector[]): Map<NodeId, number> {
  const out = new Map<NodeId, number>();
  const [first, ...rest] = vectors;
  if (!first) return out;
  for (const [node, seq] of first) {
    let low = seq;
    for (const v of rest) low = Math.min(low, v.get(node) ?? 0);
    if (low > 0) out.set(node, low);
  }
  return out;
}

/** Every origin either vector holds, at the higher seq. */
export function pointwiseMax(a: Vector, b: Vector): Map<NodeId, number> {
  const out = new Map(a);
  for (const [node, seq] of b) if (seq > (out.get(node) ?? 0)) out.set(node, seq);
  return out;
}

/** Whether `a` holds everything `b` does. */
export function covers(a: Vector, b: Vector): boolean {
  for (const [node, seq] of b) if ((a.get(node) ?? 0) < seq) return false;
  return true;
}

/** `a` with each entry capped at `b`'s (origins `b` lacks drop out). */
export function capAt(a: Vector, b: Vector): Map<NodeId, number> {
  const out = new Map<NodeId, number>();
  for (const [node, seq] of a) {
    const cap = Math.min(seq, b.get(node) ?? 0);
    if (cap > 0) out.set(node, cap);
  }
  return out;
}

export function vectorsEqual(a: Vector, b: Vector): boolean {
  return covers(a, b) && covers(b, a);
}
