/**
 * What each partial peer holds, as its server knows it: one set per session, and an index of
 * who holds each record shared by every session of one source. A commit is then checked against
 * all sessions at once (CommitRecords.holders) instead of each session looking up every op's
 * record in its own set.
 */

/** Record key -> the sessions' sets that hold it; `version` moves on every change. */
export class HolderIndex {
  readonly #holders = new Map<string, Set<HeldRecords> | HeldRecords>();
  version = 0;

  /** Every set holding any of `keys`. */
  holdersOf(keys: readonly string[]): Set<HeldRecords> {
    const out = new Set<HeldRecords>();
    for (const key of keys) {
      const at = this.#holders.get(key);
      if (at instanceof HeldRecords) out.add(at);
      else if (at) for (const h of at) out.add(h);
    }
    return out;
  }

  add(key: string, holder: HeldRecords): void {
    this.version++;
    const at = this.#holders.get(key);
    // One holder, the common case, without a set of its own.
    if (at === undefined) this.#holders.set(key, holder);
    else if (at instanceof HeldRecords) {
      if (at !== holder) this.#holders.set(key, new Set([at, holder]));
    } else at.add(holder);
  }

  delete(key: string, holder: HeldRecords): void {
    this.version++;
    const at = this.#holders.get(key);
    if (at === holder) this.#holders.delete(key);
    else if (at instanceof Set) {
      at.delete(holder);
      if (at.size === 1) this.#holders.set(key, at.values().next().value as HeldRecords);
    }
  }
}

/** The records one partial peer holds (record keys), kept in the shared index too. */
export class HeldRecords {
  readonly #keys = new Set<string>();
  readonly #index: HolderIndex;

  constructor(index: HolderIndex) {
    this.#index = index;
  }

  get size(): number {
    return this.#keys.size;
  }

  has(key: string): boolean {
    return this.#keys.has(key);
  }

  add(key: string): void {
    if (this.#keys.has(key)) return;
    this.#keys.add(key);
    this.#index.add(key, this);
  }

  /** True if it was held. */
  delete(key: string): boolean {
    if (!this.#keys.delete(key)) return false;
    this.#index.delete(key, this);
    return true;
  }

  /** Forgets everything (the session ended). */
  clear(): void {
    for (const key of this.#keys) this.#index.delete(key, this);
    this.#keys.clear();
  }

  [Symbol.iterator](): IterableIterator<string> {
    return this.#keys.values();
  }
}
