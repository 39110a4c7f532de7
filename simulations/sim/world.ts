/**
 * The simulated world: virtual time and one seeded PRNG. Everything that happens is an event
 * at a virtual instant; events at the same instant run in the order they were scheduled, so a
 * seed and a scenario give the same run, event for event.
 */
import type { Cancel, Scheduler } from '../../src/runtime.ts';
import { SeededRandom } from '../../src/util/prng.ts';

interface Event {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class World {
  readonly random: SeededRandom;
  #now = 0;
  #seq = 0;
  #heap: Event[] = [];
  /** Events run so far (for the events-per-second figure). */
  eventsRun = 0;

  constructor(seed: number) {
    this.random = new SeededRandom(seed);
  }

  get now(): number {
    return this.#now;
  }

  /** Schedules `fn` at `now + delay` (delay >= 0). */
  after(delay: number, fn: () => void): Cancel {
    const event: Event = { at: this.#now + Math.max(0, delay), seq: this.#seq++, fn, cancelled: false };
    this.#push(event);
    return () => {
      event.cancelled = true;
    };
  }

  /** Runs events until none is left before `until`, or `stop()` returns true. */
  run(until: number, stop: () => boolean = () => false): void {
    while (this.#heap.length > 0) {
      const next = this.#heap[0] as Event;
      if (next.at > until) break;
      this.#pop();
      if (next.cancelled) continue;
      this.#now = next.at;
      this.eventsRun++;
      next.fn();
      if (stop()) return;
    }
    this.#now = Math.max(this.#now, until);
  }

  /** A Scheduler whose timers a node can cancel all at once (a crash). */
  scheduler(): Scheduler & { cancelAll(): void } {
    const live = new Set<Cancel>();
    return {
      after: (ms, fn) => {
        const cancel = this.after(ms, () => {
          live.delete(cancel);
          fn();
        });
        live.add(cancel);
        return () => {
          live.delete(cancel);
          cancel();
        };
      },
      cancelAll: () => {
        for (const cancel of live) cancel();
        live.clear();
      },
    };
  }

  #push(e: Event): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(e, h[parent] as Event)) break;
      h[i] = h[parent] as Event;
      i = parent;
    }
    h[i] = e;
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop() as Event;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const child = r < h.length && before(h[r] as Event, h[l] as Event) ? r : l;
      if (!before(h[child] as Event, last)) break;
      h[i] = h[child] as Event;
      i = child;
    }
    h[i] = last;
  }
}

const before = (a: Event, b: Event) => a.at < b.at || (a.at === b.at && a.seq < b.seq);
