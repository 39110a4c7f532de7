/**
 * Acknowledgements from peers: the last version vector each peer acknowledged, and at which
 * level ('local-durable' from a peer, 'relay-durable' from a relay). `db.synced(level)` waits on
 * them, and distributed GC will read them. Persisted with the next write transaction (and on
 * close), not in one of their own per ACK: a peer acknowledges many times a second, and an
 * acknowledgement lost in a crash costs nothing (the peer sends its vector again on reconnect).
 */
import { decodeValue, decodeVersionVector, encodeValue, encodeVersionVector } from '../codec/index.ts';
import type { NodeId } from '../identity/node-id.ts';
import type { Storage } from '../storage/index.ts';

export type AckLevel = 'local-durable' | 'relay-durable';

export interface PeerAck {
  readonly peer: NodeId;
  readonly level: AckLevel;
  readonly version: ReadonlyMap<NodeId, number>;
}

/** The list of peers with an acknowledgement; each peer's is under `ack:<peer>`. */
const META_ACKS = 'acks';
const metaKey = (peer: string) => `ack:${peer}`;

/**
 * A stored acknowledgement: [peer, level, version]. The version is an encoded vector (a relay's
 * hundreds of peers each acknowledge vectors of hundreds of origins, saved with every commit:
 * as a map value, sorting and writing its keys was a tenth of the relay's time); stores written
 * before format 3 hold a map of origin -> seq.
 */
type StoredAck = [peer: string, level: AckLevel | undefined, version: Uint8Array | Record<string, number>];

function storedVersion(version: StoredAck[2]): Map<NodeId, number> {
  return version instanceof Uint8Array ? decodeVersionVector(version) : (new Map(Object.entries(version)) as Map<NodeId, number>);
}

interface Waiter {
  level: AckLevel;
  node: NodeId;
  seq: number;
  resolve: () => void;
}

export class AckTracker {
  readonly #storage: Storage;
  readonly #acks = new Map<NodeId, PeerAck>();
  readonly #dirty = new Set<NodeId>();
  #listDirty = false;
  #waiters: Waiter[] = [];
  readonly #changeListeners = new Set<() => void>();
  /** True once a sync session has been set up for this database. */
  attached = false;

  constructor(storage: Storage) {
    this.#storage = storage;
    const bytes = storage.getMeta(META_ACKS);
    if (!bytes) return;
    for (const entry of decodeValue(bytes) as (string | StoredAck)[]) {
      // Stores written before acks had a key per peer hold [peer, level, version] entries.
      const stored = typeof entry === 'string' ? storage.getMeta(metaKey(entry)) : undefined;
      const [peer, level, version] =
        typeof entry === 'string' ? (stored ? (decodeValue(stored) as StoredAck) : [entry, undefined, {}]) : entry;
      if (!level) continue;
      this.#acks.set(peer as NodeId, { peer: peer as NodeId, level, version: storedVersion(version) });
    }
  }

  /**
   * Records a peer's acknowledgement (its vector only moves forward; the level is the latest
   * the peer was entitled to) and wakes whoever it satisfies. Stored only when it changed.
   */
  record(ack: PeerAck): void {
    const old = this.#acks.get(ack.peer);
    // Most ACKs repeat what is known: look before copying the vector.
    let moved = old === undefined || old.level !== ack.level;
    if (!moved) for (const [node, seq] of ack.version) if (seq > (old?.version.get(node) ?? 0)) moved = true;
    if (!moved) return;
    const version = new Map(old?.version ?? []);
    for (const [node, seq] of ack.version) if (seq > (version.get(node) ?? 0)) version.set(node, seq);
    if (!old) this.#listDirty = true;
    this.#acks.set(ack.peer, { peer: ack.peer, level: ack.level, version });
    this.#dirty.add(ack.peer);
    for (const listener of [...this.#changeListeners]) listener();
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const w of waiting) {
      if (this.covers(w.level, w.node, w.seq)) w.resolve();
      else this.#waiters.push(w);
    }
  }

  /** Called whenever some peer's acknowledgement moved. Returns an unsubscribe. */
  onChange(listener: () => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  /** Whether some peer acknowledged (node, seq) at `level` or higher. */
  covers(level: AckLevel, node: NodeId, seq: number): boolean {
    if (seq === 0) return true;
    for (const ack of this.#acks.values()) {
      if (level === 'relay-durable' && ack.level !== 'relay-durable') continue;
      if ((ack.version.get(node) ?? 0) >= seq) return true;
    }
    return false;
  }

  /** Resolves once (node, seq) is covered at `level`. */
  waitFor(level: AckLevel, node: NodeId, seq: number, signal?: AbortSignal): Promise<void> {
    if (this.covers(level, node, seq)) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        level,
        node,
        seq,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.#waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** One peer's last acknowledgement. */
  get(peer: NodeId): PeerAck | undefined {
    return this.#acks.get(peer);
  }

  /** Every peer's last acknowledgement. */
  all(): PeerAck[] {
    return [...this.#acks.values()];
  }

  /** After a rolled-back write: what `save` stored in it is gone; store it all again. */
  markUnsaved(): void {
    for (const peer of this.#acks.keys()) this.#dirty.add(peer);
    this.#listDirty = true;
  }

  /** Stores what changed since the last save (called inside a write transaction). */
  save(): void {
    if (this.#dirty.size === 0) return;
    for (const peer of this.#dirty) {
      const a = this.#acks.get(peer) as PeerAck;
      this.#storage.setMeta(metaKey(peer), encodeValue([a.peer, a.level, encodeVersionVector(a.version)]));
    }
    this.#dirty.clear();
    if (this.#listDirty) this.#storage.setMeta(META_ACKS, encodeValue([...this.#acks.keys()]));
    this.#listDirty = false;
  }
}
