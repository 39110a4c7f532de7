import type { NodeId } from '../identity/node-id.ts';

/**
 * The origins whose version may have moved since their consumer (a session's pump, its ACKs)
 * last looked. A relay holds hundreds of origins: looking at every one, per commit, per session,
 * stalled a 500-peer relay for seconds. Every origin counts as moved until the first look, and
 * again after `all()` (when something moved that no commit names, as after a snapshot).
 */
export class MovedOrigins {
  readonly #moved = new Set<NodeId>();
  #all = true;

  add(node: NodeId): void {
    if (!this.#all) this.#moved.add(node);
  }

  all(): void {
    this.#all = true;
    this.#moved.clear();
  }

  /**
   * The origins to look at now, in the order they moved: the consumer deletes those it is done
   * with (or clears the set).
   */
  look(version: ReadonlyMap<NodeId, number>): Set<NodeId> {
    if (this.#all) {
      this.#all = false;
      for (const node of version.keys()) this.#moved.add(node);
    }
    return this.#moved;
  }
}
