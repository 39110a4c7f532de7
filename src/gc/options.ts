/** Distributed GC options of `BlazeDB.open({ gc })`, checked up front (bad config changes nothing). */
import { ValidationError } from '../errors.ts';
import { DEFAULT_EVICT_AFTER_MS } from './gc-state.ts';

export interface GcOptions {
  /**
   * This node is the database's home relay: it decides the stable frontier and evicts silent
   * members. One per database (docs/gc.md). Default false.
   */
  authority?: boolean;
  /** Silence after which the home relay evicts a member from the frontier (default 30 days). */
  evictAfterMs?: number;
  /** Keep ops this long for history and time travel even once they are stable (default 0). */
  historyRetentionMs?: number;
  /** While syncing, compact this often (default 60 s; 0: only on `db.compact()`). */
  intervalMs?: number;
  /** Ops folded and removed per transaction at most: what a write may wait for (default 5,000). */
  maxOpsPerStep?: number;
}

export type ResolvedGcOptions = Required<GcOptions>;

export const DEFAULT_GC_INTERVAL_MS = 60_000;
export const DEFAULT_MAX_OPS_PER_STEP = 5_000;

export function resolveGcOptions(options: GcOptions | undefined): ResolvedGcOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new ValidationError('gc', 'gc options are an object');
  }
  const o = options ?? {};
  const known = new Set(['authority', 'evictAfterMs', 'historyRetentionMs', 'intervalMs', 'maxOpsPerStep']);
  for (const key of Object.keys(o)) if (!known.has(key)) throw new ValidationError(`gc.${key}`, 'unknown GC option');
  if (o.authority !== undefined && typeof o.authority !== 'boolean') throw new ValidationError('gc.authority', 'a boolean');
  const ms = (name: keyof GcOptions, value: unknown, fallback: number, min: number) => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
      throw new ValidationError(`gc.${name}`, `an integer >= ${min}`);
    }
    return value;
  };
  return {
    authority: o.authority ?? false,
    evictAfterMs: ms('evictAfterMs', o.evictAfterMs, DEFAULT_EVICT_AFTER_MS, 1),
    historyRetentionMs: ms('historyRetentionMs', o.historyRetentionMs, 0, 0),
    intervalMs: ms('intervalMs', o.intervalMs, DEFAULT_GC_INTERVAL_MS, 0),
    maxOpsPerStep: ms('maxOpsPerStep', o.maxOpsPerStep, DEFAULT_MAX_OPS_PER_STEP, 1),
  };
}
