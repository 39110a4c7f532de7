/**
 * The node's distributed GC, wired together: membership and announcements (GcState), the
 * log's horizon, compaction to the announced frontier, and snapshots. The database owns one;
 * sync sessions reach it through their source (src/sync/engine-source.ts).
 */
import { decodeValue, encodeValue } from '../codec/index.ts';
import type { AckTracker } from '../db/acks.ts';
import type { Engine } from '../db/engine.ts';
import type { NodeId } from '../identity/node-id.ts';
import type { Cancel, Scheduler } from '../runtime.ts';
import type { GossipedMember } from '../sync/messages.ts';
import { compactStep } from './compactor.ts';
import { type GcAnnouncement, type GcSigner, GcState, type Member } from './gc-state.ts';
import { Horizon } from './horizon.ts';
import type { ResolvedGcOptions } from './options.ts';
import { applySnapshot, SnapshotWriter, snapshotRecords } from './snapshot.ts';
import type { Vector } from './vectors.ts';

/** When the last compaction that removed ops ran, and how many it removed (shown by stats). */
const META_LAST_COMPACTION = 'gc_last_compaction';

export interface CompactionResult {
  /** Ops removed from the log. */
  readonly removed: number;
  /** Transactions it took. */
  readonly steps: number;
  /** Ops left in the log. */
  readonly opCount: number;
  /** The frontier compacted towards. */
  readonly frontier: Readonly<Record<string, number>>;
  /** False when it stopped at `maxSteps` with more to do. */
  readonly done: boolean;
}

export interface MemberStatus extends Member {
  /** Ops this node holds that the member has not acknowledged to it (undefined: no ack yet). */
  readonly lagOps: number | undefined;
}

export interface GcStatus {
  readonly authority: boolean;
  /** Ops in the log now. */
  readonly opLogSize: number;
  readonly frontier: Readonly<Record<string, number>>;
  /** Per origin, the seq at and below which the log lacks ops (compacted or snapshot-borne). */
  readonly horizon: Readonly<Record<string, number>>;
  /** History and time travel are answerable only for times at or after this (null: all retained). */
  readonly historyFrom: Date | null;
  readonly members: readonly MemberStatus[];
  readonly lastCompaction: { readonly at: Date; readonly removed: number } | null;
  /** Compaction runs since this process opened the store (metrics count them). */
  readonly runs: number;
  /** Ops those runs removed. */
  readonly removedOps: number;
}

export class Collector {
  readonly state: GcState;
  readonly horizon: Horizon;
  readonly options: ResolvedGcOptions;
  readonly #engine: Engine;
  readonly #acks: AckTracker;
  readonly #self: () => NodeId;
  readonly #sign: GcSigner;
  #timer: Cancel | undefined;
  readonly #evictedListeners = new Set<(announcement: GcAnnouncement) => void>();
  readonly #compactedListeners = new Set<(frontier: ReadonlyMap<NodeId, number>) => void>();
  #last: { at: Date; removed: number } | null = null;
  #runs = 0;
  #removedOps = 0;

  constructor(engine: Engine, acks: AckTracker, self: () => NodeId, sign: GcSigner, options: ResolvedGcOptions) {
    this.#engine = engine;
    this.#acks = acks;
    this.#self = self;
    this.#sign = sign;
    this.options = options;
    this.state = new GcState(engine.storage, { authority: options.authority, evictAfterMs: options.evictAfterMs });
    this.horizon = new Horizon(engine);
    engine.beforeCommit(() => this.state.save());
    engine.afterRollback(() => this.state.markUnsaved());
    // Told by the home relay that it evicted this node: it resyncs from a snapshot.
    this.state.onAnnouncement((a) => {
      if (this.state.authority || !a.evicted.includes(this.#self())) return;
      for (const listener of [...this.#evictedListeners]) listener(a);
    });
    const last = engine.storage.getMeta(META_LAST_COMPACTION);
    if (last) {
      const [at, removed] = decodeValue(last) as [number, number];
      this.#last = { at: new Date(at), removed };
    }
  }

  /** The home relay decides (evictions, frontier); anywhere else this does nothing. */
  decide(): GcAnnouncement | undefined {
    if (!this.state.authority) return undefined;
    const decided = this.state.decide(
      this.#self(),
      this.#engine.clock.wallMs(),
      this.#engine.replica.version.toMap(),
      (member) => this.#acks.get(member)?.version,
      this.#sign,
    );
    // Stored by the write's before-commit hook; no transaction when nothing moved.
    if (this.state.dirty) this.#engine.write(() => {});
    return decided;
  }

  /** Runs up to `maxSteps` compaction steps towards the announced frontier. */
  compactNow(maxSteps = Number.POSITIVE_INFINITY): CompactionResult {
    this.decide();
    const frontier = this.state.frontier;
    const cutoff = this.options.historyRetentionMs > 0 ? this.#engine.clock.wallMs() - this.options.historyRetentionMs : undefined;
    let removed = 0;
    let steps = 0;
    let done = false;
    while (!done && steps < maxSteps) {
      const step = compactStep(this.#engine, this.horizon, frontier, this.options.maxOpsPerStep, cutoff);
      steps++;
      removed += step.removed;
      done = step.done;
      if (step.removed === 0) break;
    }
    this.#runs++;
    this.#removedOps += removed;
    if (removed > 0) {
      const at = this.#engine.clock.wallMs();
      this.#engine.write(() => this.#engine.storage.setMeta(META_LAST_COMPACTION, encodeValue([at, removed])));
      this.#last = { at: new Date(at), removed };
      for (const listener of [...this.#compactedListeners]) listener(frontier);
    }
    return { removed, steps, opCount: this.#engine.storage.opCount(), frontier: Object.fromEntries(frontier), done };
  }

  /** Called after a compaction that removed ops, with the frontier it compacted to. Returns an unsubscribe. */
  onCompacted(listener: (frontier: ReadonlyMap<NodeId, number>) => void): () => void {
    this.#compactedListeners.add(listener);
    return () => this.#compactedListeners.delete(listener);
  }

  /** Called when an adopted announcement lists this node as evicted. Returns an unsubscribe. */
  onEvicted(listener: (announcement: GcAnnouncement) => void): () => void {
    this.#evictedListeners.add(listener);
    return () => this.#evictedListeners.delete(listener);
  }

  /** Compacts every `intervalMs` until stopped (started when sync starts). */
  start(scheduler: Scheduler, onError: (err: unknown) => void): void {
    if (this.#timer || this.options.intervalMs === 0) return;
    const tick = () => {
      try {
        // Bounded per tick: the rest waits for the next one, writes go in between.
        this.compactNow(4);
      } catch (err) {
        onError(err);
      }
      this.#timer = scheduler.after(this.options.intervalMs, tick);
    };
    this.#timer = scheduler.after(this.options.intervalMs, tick);
  }

  stop(): void {
    this.#timer?.();
    this.#timer = undefined;
  }

  /** Acknowledgements of members this node met directly that are not relays (to pass on to relays). */
  memberAcks(): GossipedMember[] {
    const out: GossipedMember[] = [];
    for (const m of this.state.members()) {
      const version = this.#acks.get(m.id)?.version;
      if (!m.relay && !m.evicted && version && m.id !== this.#self())
        out.push({ id: m.id, lastSeen: m.lastSeen, version, partial: m.partial });
    }
    return out;
  }

  /**
   * Acknowledgements a peer passed on for members it met: kept as if heard at its time, so the
   * home relay's frontier waits for devices that reach it only through others.
   */
  receiveMembers(members: readonly GossipedMember[], from: NodeId): void {
    const self = this.#self();
    for (const m of members) {
      if (m.id === self || m.id === from) continue;
      this.state.memberSeen(m.id, m.lastSeen, m.partial, this.state.member(m.id)?.relay ?? false);
      this.#acks.record({ peer: m.id, level: 'local-durable', version: m.version });
    }
  }

  snapshot(): SnapshotWriter {
    return new SnapshotWriter(this.#engine);
  }

  applySnapshot(version: Vector, chunks: readonly Uint8Array[]): number {
    // Decoded one at a time as it is applied, all in one transaction: a bad chunk rolls it
    // all back and changes nothing.
    const decoded = snapshotRecords(chunks);
    return applySnapshot(this.#engine, this.horizon, version, decoded);
  }

  /** Compaction runs since this process opened the database (status().runs, without the rest). */
  get runs(): number {
    return this.#runs;
  }

  /** Ops compaction removed since this process opened the database. */
  get removedOps(): number {
    return this.#removedOps;
  }

  status(): GcStatus {
    const version = this.#engine.replica.version.toMap();
    const members = this.state.members().map((m): MemberStatus => {
      const acked = this.#acks.get(m.id)?.version;
      let lag = 0;
      if (acked) for (const [node, seq] of version) lag += Math.max(0, seq - (acked.get(node) ?? 0));
      return { ...m, lagOps: acked ? lag : undefined };
    });
    const wall = this.horizon.wall;
    return {
      authority: this.state.authority,
      opLogSize: this.#engine.storage.opCount(),
      frontier: Object.fromEntries(this.state.frontier),
      horizon: Object.fromEntries(this.horizon.vector),
      historyFrom: wall > 0 ? new Date(wall) : null,
      members,
      lastCompaction: this.#last,
      runs: this.#runs,
      removedOps: this.#removedOps,
    };
  }
}
