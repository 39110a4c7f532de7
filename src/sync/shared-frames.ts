/**
 * OPS frames encoded once for every session that sends the same ops (protocol 1.5, standalone
 * batches). Keyed by the op objects themselves: a full replica hands every session the same
 * objects for its newest ops (src/db/op-tail-cache.ts), so sessions at the same place in the log
 * share one frame, and a frame is forgotten with its ops.
 */

import type { Op } from '../ops/op.ts';
import { encodeStandaloneOps } from './messages.ts';

const frames = new WeakMap<Op, { last: Op; count: number; frame: Uint8Array }>();

/** The standalone OPS frame of these ops (one origin's, consecutive), encoded at most once while they are shared. */
export function standaloneOpsFrame(ops: readonly Op[]): Uint8Array {
  const first = ops[0] as Op;
  const last = ops.at(-1) as Op;
  const known = frames.get(first);
  if (known && known.last === last && known.count === ops.length) return known.frame;
  const frame = encodeStandaloneOps(ops);
  frames.set(first, { last, count: ops.length, frame });
  return frame;
}
