/**
 * The real clock, randomness and timers. The only place in src/ that touches them;
 * everything else receives them as `WallClock`, `Random` and `Scheduler`.
 */
import { randomBytes } from 'node:crypto';
import type { Cancel, Random, Scheduler, WallClock } from '../runtime.ts';

export const systemClock: WallClock = { now: () => Date.now() };

/** CSPRNG bytes, drawn from the OS 4 KiB at a time: one call per id would dominate inserts. */
const POOL_BYTES = 4096;
let pool = new Uint8Array(0);
let poolAt = 0;

export const cryptoRandom: Random = {
  bytes(n: number): Uint8Array {
    if (n > POOL_BYTES) return new Uint8Array(randomBytes(n));
    if (poolAt + n > pool.length) {
      pool = new Uint8Array(randomBytes(POOL_BYTES));
      poolAt = 0;
    }
    const out = pool.slice(poolAt, poolAt + n);
    // Never hand out the same bytes twice: wipe what was taken.
    pool.fill(0, poolAt, poolAt + n);
    poolAt += n;
    return out;
  },
  float: () => Math.random(),
};

export const realScheduler: Scheduler = {
  after(ms: number, fn: () => void): Cancel {
    // At once, but after pending I/O (setTimeout would wait at least 1 ms).
    if (ms <= 0) {
      const immediate = setImmediate(fn);
      return () => clearImmediate(immediate);
    }
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};

/** Timers for background upkeep (compaction): they never keep the process alive on their own. */
export const backgroundScheduler: Scheduler = {
  after(ms: number, fn: () => void): Cancel {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** Resolves on the event loop's next turn: long work in steps lets I/O and timers in between. */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
