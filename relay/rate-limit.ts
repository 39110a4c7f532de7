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
    this.#refill(nowMs);
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }

  /** Whether the bucket is full again: it then decides exactly as a new one would. */
  full(nowMs: number): boolean {
    this.#refill(nowMs);
    return this.#tokens >= this.#capacity;
  }

  #refill(nowMs: number): void {
    this.#tokens = Math.min(this.#capacity, this.#tokens + ((nowMs - this.#at) / 1000) * this.#rate);
    this.#at = nowMs;
  }
}

/**
 * One token bucket per peer. Buckets that filled up again are dropped once there are more than
 * `keep` (a full bucket decides as a new one would), so peers that came and went do not pile up.
 */
export class PeerBuckets {
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #rate: number;
  readonly #burstSeconds: number;
  readonly #keep: number;

  constructor(rate: number, burstSeconds: number, keep = 4_096) {
    this.#rate = rate;
    this.#burstSeconds = burstSeconds;
    this.#keep = keep;
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** Takes `n` tokens from `peer`'s bucket; false (taking none) when it holds fewer. */
  take(peer: string, n: number, nowMs: number): boolean {
    let bucket = this.#buckets.get(peer);
    if (!bucket) {
      if (this.#buckets.size >= this.#keep) this.#dropFull(nowMs);
      bucket = new TokenBucket(this.#rate, this.#burstSeconds, nowMs);
      this.#buckets.set(peer, bucket);
    }
    return bucket.take(n, nowMs);
  }

  #dropFull(nowMs: number): void {
    for (const [peer, bucket] of this.#buckets) if (bucket.full(nowMs)) this.#buckets.delete(peer);
  }
}
