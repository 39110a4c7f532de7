/**
 * Hybrid logical clock (Kulkarni et al.): wall milliseconds plus a logical counter.
 *
 * - `now()` is strictly monotonic even when the physical clock stalls or jumps backwards.
 * - `observe(remote)` moves the clock past a received stamp so later local writes order after
 *   it, but never further than `physical + maxDriftMs`: a peer with a clock far in the future
 *   cannot drag this node's clock along. Such a stamp is reported through `onSkew`; the op
 *   itself is still applied as stamped (rejecting it would stall that origin's sequence).
 *
 * Usage:
 *   const clock = new HybridClock({ wallClock: systemClock, onSkew: (e) => log(e) });
 *   const { wall, counter } = clock.now();
 */
import type { WallClock } from '../runtime.ts';

export interface HlcTime {
  readonly wall: number;
  readonly counter: number;
}

export interface ClockSkewEvent {
  /** Who sent the stamp, when the caller knows (peer or origin node id). */
  readonly from: string | undefined;
  readonly remoteWall: number;
  readonly localWall: number;
  /** remoteWall - physical now, ms. */
  readonly aheadByMs: number;
}

export interface HybridClockInit {
  wallClock: WallClock;
  /** How far ahead of physical time the clock may be pulled by remote stamps. Default 5 min. */
  maxDriftMs?: number;
  /** Called when a remote stamp is further ahead than `maxDriftMs`. */
  onSkew?: (event: ClockSkewEvent) => void;
  /** The last stamp issued before a restart, so the clock never goes back across restarts. */
  last?: HlcTime;
}

/** Default bound on how far remote stamps may pull the local clock ahead of physical time. */
export const DEFAULT_MAX_DRIFT_MS = 5 * 60_000;

export class HybridClock {
  #wall = 0;
  #counter = 0;
  readonly #physical: WallClock;
  readonly #maxDrift: number;
  readonly #onSkew: ((event: ClockSkewEvent) => void) | undefined;

  constructor(init: HybridClockInit) {
    this.#physical = init.wallClock;
    this.#maxDrift = init.maxDriftMs ?? DEFAULT_MAX_DRIFT_MS;
    this.#onSkew = init.onSkew;
    if (init.last) {
      this.#wall = init.last.wall;
      this.#counter = init.last.counter;
    }
  }

  /** The last stamp issued or observed (what to persist across restarts). */
  get last(): HlcTime {
    return { wall: this.#wall, counter: this.#counter };
  }

  /**
   * The clock's current time in ms without issuing a stamp: the physical clock, or the last stamp
   * if that is ahead. Never goes back while the process runs.
   */
  wallMs(): number {
    return Math.max(this.#physicalMs(), this.#wall);
  }

  /** The physical clock in whole milliseconds (stamps are integers on the wire). */
  #physicalMs(): number {
    return Math.floor(this.#physical.now());
  }

  /** A new stamp, greater than every stamp issued or observed before. */
  now(): HlcTime {
    const pt = this.#physicalMs();
    if (pt > this.#wall) {
      this.#wall = pt;
      this.#counter = 0;
    } else {
      this.#counter++;
    }
    return { wall: this.#wall, counter: this.#counter };
  }

  /**
   * Moves the clock to at least `last`, a stamp this node itself issued or observed before a
   * restart. Unlike `observe` there is no drift bound: the clock must never go back.
   */
  restore(last: HlcTime): void {
    if (last.wall > this.#wall || (last.wall === this.#wall && last.counter > this.#counter)) {
      this.#wall = last.wall;
      this.#counter = last.counter;
    }
  }

  /** Accounts for a received stamp (see the module comment for the drift bound). */
  observe(remote: HlcTime, from?: string): void {
    const pt = this.#physicalMs();
    let { wall, counter } = remote;
    const limit = pt + this.#maxDrift;
    if (wall > limit) {
      this.#onSkew?.({ from, remoteWall: wall, localWall: pt, aheadByMs: wall - pt });
      // Follow only up to the drift bound: a counter above the bound's wall is enough order.
      wall = limit;
      counter = 0;
    }
    if (wall > this.#wall) {
      this.#wall = wall;
      this.#counter = counter;
    } else if (wall === this.#wall && counter > this.#counter) {
      this.#counter = counter;
    }
  }
}
