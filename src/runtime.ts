/**
 * The three sources of nondeterminism the engine uses, as injected interfaces.
 * Real implementations live in `platform/`; the simulator supplies virtual ones.
 * Nothing else in src/ reads the wall clock, draws random numbers or sets timers.
 */

/** Physical wall clock, milliseconds since the Unix epoch. May stall or jump backwards. */
export interface WallClock {
  now(): number;
}

/** Source of randomness. */
export interface Random {
  /** `n` random bytes. */
  bytes(n: number): Uint8Array;
  /** A float in [0, 1). */
  float(): number;
}

/** Cancels a scheduled callback; calling it twice is harmless. */
export type Cancel = () => void;

/** Timers. */
export interface Scheduler {
  /** Run `fn` once after `ms` milliseconds. */
  after(ms: number, fn: () => void): Cancel;
}
