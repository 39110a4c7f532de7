/**
 * Compaction: ops at or below the stable frontier are folded into their records' base states
 * and removed from the op log, in bounded steps (one transaction each, so writes wait at most
 * one step, and a crash leaves either the whole step or none of it). GC removes history, never
 * merge information: every record row keeps its full merge state, so a compacted replica still
 * merges with any other; only replays (history, time travel) start from the base.
 */
import { loadBase, replayReplica, storeBase } from '../db/bases.ts';
import type { Engine } from '../db/engine.ts';
import { recordKey } from '../db/engine.ts';
import type { Op } from '../ops/op.ts';
import { RecordState } from '../replica/index.ts';
import type { Horizon } from './horizon.ts';
import type { Vector } from './vectors.ts';

export interface CompactionStep {
  /** Ops removed from the log in this step. */
  readonly removed: number;
  /** False when the step's budget ran out before `target` was reached. */
  readonly done: boolean;
}

/**
 * One step: folds and removes up to `maxOps` ops at or below `target` (capped at what this
 * replica holds without gaps) and, with `cutoffWall`, only ops stamped at or before it
 * (history retention). Partial replicas do not compact (docs/gc.md).
 */
export function compactStep(engine: Engine, horizon: Horizon, target: Vector, maxOps: number, cutoffWall?: number): CompactionStep {
  if (engine.filter || !hasWork(engine, horizon.vector, target)) return { removed: 0, done: true };
  const next = new Map(horizon.vector);
  let wall = horizon.wall;
  let removed = 0;
  let done = true;
  engine.write(() => {
    const version = engine.replica.version;
    const folded: Op[] = [];
    for (const [node, wanted] of target) {
      const from = next.get(node) ?? 0;
      const through = Math.min(wanted, version.get(node));
      if (through <= from) continue;
      const budget = maxOps - folded.length;
      if (budget <= 0) {
        done = false;
        break;
      }
      const stored = engine.storage.opsAfter(node, from, budget);
      let last = from;
      let cut = false;
      for (const s of stored) {
        if (s.seq > through) break;
        const op = engine.decodeStoredOp(s);
        if (cutoffWall !== undefined && op.wall > cutoffWall) {
          cut = true;
          break;
        }
        folded.push(op);
        last = s.seq;
        wall = Math.max(wall, op.wall);
      }
      // Nothing more of it in the log up to `through` (a snapshot brought those as state).
      const exhausted = !cut && (stored.length < budget || (stored.at(-1)?.seq ?? 0) >= through);
      if (exhausted) last = through;
      else if (!cut) done = false;
      if (last > from) {
        engine.compactOps(node, last, budget);
        next.set(node, last);
      }
    }
    foldIntoBases(engine, horizon.vector, folded);
    horizon.store(next, wall);
    removed = folded.length;
  });
  horizon.adopt(next, wall);
  return { removed, done };
}

/** Whether some origin is held past the horizon and stable past it (else no transaction at all). */
function hasWork(engine: Engine, horizon: Vector, target: Vector): boolean {
  const version = engine.replica.version;
  for (const [node, wanted] of target) if (Math.min(wanted, version.get(node)) > (horizon.get(node) ?? 0)) return true;
  return false;
}

/** Applies removed ops to their records' base states (each record loaded and stored once). */
function foldIntoBases(engine: Engine, seen: Vector, ops: readonly Op[]): void {
  if (ops.length === 0) return;
  const replica = replayReplica(seen);
  const records = new Map<string, { collection: string; id: string }>();
  for (const op of ops) {
    const key = recordKey(op.collection, op.record);
    if (!records.has(key)) {
      records.set(key, { collection: op.collection, id: op.record });
      replica.replaceRecord(op.collection, op.record, loadBase(engine, op.collection, op.record) ?? new RecordState());
    }
    replica.apply(op);
  }
  for (const { collection, id } of records.values()) {
    storeBase(engine, collection, id, replica.recordState(collection, id) ?? new RecordState());
  }
}
