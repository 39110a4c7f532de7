/**
 * The log's horizon: per origin, the seq at and below which this node's op log may lack ops,
 * because compaction folded them into base states or a snapshot brought them as state. A peer
 * that lacks anything at or below the horizon cannot be sent ops: it gets a snapshot.
 * Also the newest wall time among those ops: history before it is no longer answerable.
 */
import { decodeValue, encodeValue } from '../codec/index.ts';
import type { Engine } from '../db/engine.ts';
import type { NodeId } from '../identity/node-id.ts';
import type { Vector } from './vectors.ts';

const META_HORIZON = 'gc_horizon';

export class Horizon {
  readonly #engine: Engine;
  #vector: Vector = new Map();
  #wall = 0;
  /** The engine generation the cached value was read at (another process may compact). */
  #readAt = -1;

  constructor(engine: Engine) {
    this.#engine = engine;
  }

  /** Per origin, the seq at and below which ops may be missing from the log. */
  get vector(): Vector {
    this.#refresh();
    return this.#vector;
  }

  /** The newest wall time (ms) of an op no longer in the log; 0 when none is gone. */
  get wall(): number {
    this.#refresh();
    return this.#wall;
  }

  /** Stores a new horizon (inside a write transaction); call `adopt` once it committed. */
  store(vector: Vector, wall: number): void {
    this.#engine.storage.setMeta(META_HORIZON, encodeValue([Object.fromEntries(vector), wall]));
  }

  adopt(vector: Vector, wall: number): void {
    this.#vector = new Map(vector);
    this.#wall = wall;
    this.#readAt = this.#engine.generation;
  }

  #refresh(): void {
    if (this.#readAt === this.#engine.generation) return;
    const stored = this.#engine.storage.getMeta(META_HORIZON);
    const [vector, wall] = stored ? (decodeValue(stored) as [Record<string, number>, number]) : [{}, 0];
    this.adopt(new Map(Object.entries(vector)) as Map<NodeId, number>, wall);
  }
}
