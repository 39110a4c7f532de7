/**
 * A token bucket per peer: `rate` ops per second on average, bursts of `burstSeconds` worth.
 * The clock is injected (milliseconds).
 */
export class TokenBucket {
  readonly #rate: number;
  readonly #capacity: number;
  #tokens: number;
  #at: number;

  constructor(rate: number, burstSeconds: number, nowMs: number) {
    this.#rate = rate;
    this.#capacity = rate * burstSeconds;
    this.#tokens = this.#capacity;
    this.#at = nowMs;
  }

  /** Takes `n` tokens; false (taking none) when the bucket holds fewer. */
  take(n: number, nowMs: number): boolean {
    this.#tokens = Math.min(this.#capacity, this.#tokens + ((nowMs - this.#at) / 1000) * this.#rate);
    this.#at = nowMs;
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }
}
