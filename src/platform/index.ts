/**
 * The real clock, randomness and timers. The only place in src/ that touches them;
 * everything else receives them as `WallClock`, `Random` and `Scheduler`.
 */
import { randomBytes } from 'node:crypto';
import type { Cancel, Random, Scheduler, WallClock } from '../runtime.ts';

export const systemClock: WallClock = { now: () => Date.now() };

export const cryptoRandom: Random = {
  bytes: (n) => new Uint8Array(randomBytes(n)),
  float: () => Math.random(),
};

export const realScheduler: Scheduler = {
  after(ms: number, fn: () => void): Cancel {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};
