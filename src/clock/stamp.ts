/**
 * HLC stamps and their total order: wall, then logical counter, then node id. Two ops never
 * share a stamp (a node's clock is strictly monotonic), so the order decides every LWW tie.
 */
import type { NodeId } from '../identity/node-id.ts';

export interface Stamp {
  readonly wall: number;
  readonly counter: number;
  readonly node: NodeId;
}

/** Negative if `a` is older than `b`, positive if newer, 0 if equal. */
export function compareStamps(a: Stamp, b: Stamp): number {
  if (a.wall !== b.wall) return a.wall - b.wall;
  if (a.counter !== b.counter) return a.counter - b.counter;
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

export function stampAfter(a: Stamp, b: Stamp | undefined): boolean {
  return b === undefined || compareStamps(a, b) > 0;
}
