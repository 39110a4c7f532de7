/**
 * Acknowledgements from peers: the last version vector each peer acknowledged, and at which
 * level ('local-durable' from a peer, 'relay-durable' from a relay). Persisted, so a restart
 * does not forget them; `db.synced(level)` waits on them, and distributed GC will read them.
 */
import { decodeValue, encodeValue } from '../codec/index.ts';
import type { NodeId } from '../identity/node-id.ts';
import type { Storage } from '../storage/index.ts';

export type AckLevel = 'local-durable' | 'relay-durable';

export interface PeerAck {
  readonly peer: NodeId;
  readonly level: AckLevel;
  readonly version: ReadonlyMap<NodeId, number>;
}

const META_ACKS = 'acks';

interface Waiter {
  level: AckLevel;
  node: NodeId;
  seq: number;
  resolve: () => void;
}

export class AckTracker {
  readonly #storage: Storage;
  readonly #acks = new Map<NodeId, PeerAck>();
  #waiters: Waiter[] = [];
  /** True once a sync session has been set up for this database. */
  attached = false;

  constructor(storage: Storage) {
    this.#storage = storage;
    const bytes = storage.getMeta(META_ACKS);
    if (!bytes) return;
    for (const [peer, level, version] of decodeValue(bytes) as [string, AckLevel, Record<string, number>][]) {
      this.#acks.set(peer as NodeId, { peer: peer as NodeId, level, version: new Map(Object.entries(version)) as Map<NodeId, number> });
    }
  }

  /**
   * Records a peer's acknowledgement (its vector only moves forward; the level is the latest
   * the peer was entitled to) and wakes whoever it satisfies. Stored only when it changed.
   */
  record(ack: PeerAck): void {
    const old = this.#acks.get(ack.peer);
    const version = new Map(old?.version ?? []);
    let moved = old === undefined || old.level !== ack.level;
    for (const [node, seq] of ack.version) {
      if (seq > (version.get(node) ?? 0)) {
        version.set(node, seq);
        moved = true;
      }
    }
    if (!moved) return;
    this.#acks.set(ack.peer, { peer: ack.peer, level: ack.level, version });
    this.#storage.transaction(() => this.#storage.setMeta(META_ACKS, this.#encode()));
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const w of waiting) {
      if (this.covers(w.level, w.node, w.seq)) w.resolve();
      else this.#waiters.push(w);
    }
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

  /** Every peer's last acknowledgement. */
  all(): PeerAck[] {
    return [...this.#acks.values()];
  }

  #encode(): Uint8Array {
    return encodeValue([...this.#acks.values()].map((a) => [a.peer, a.level, Object.fromEntries(a.version)]));
  }
}
