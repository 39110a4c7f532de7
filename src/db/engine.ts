/**
 * The engine binds a replica to a store. Every write, local or remote, runs in one storage
 * transaction: the ops are appended, the changed records' merge states and visible docs are
 * written, index entries follow, and the version vector and clock are recorded. Only then does
 * the write return (`local-durable`). If anything throws, the storage transaction rolls back
 * and the replica is rebuilt from the store, so memory never holds what disk does not.
 */
import type { HybridClock } from '../clock/hlc.ts';
import type { Stamp } from '../clock/stamp.ts';
import { compareStamps } from '../clock/stamp.ts';
import { Decoder, readVarUint } from '../codec/decoder.ts';
import { Encoder, writeVarUint } from '../codec/encoder.ts';
import { decodeOp, decodeValue, encodeOp, encodeValue } from '../codec/index.ts';
import { TamperedDataError } from '../crypto/errors.ts';
import type { PayloadCipher } from '../crypto/payload-cipher.ts';
import { ValidationError } from '../errors.ts';
import type { NodeId } from '../identity/node-id.ts';
import { dotKey, type Op } from '../ops/op.ts';
import { type Condition, compareRecords, matches, type ParsedOptions, type Plan, planQuery } from '../query/index.ts';
import {
  decodeRecordState,
  encodeRecordState,
  type RecordChange,
  RecordState,
  Replica,
  SCHEMA_COLLECTION,
  VersionVector,
} from '../replica/index.ts';
import type { RecordRow, Storage, StoredOp } from '../storage/index.ts';
import { SyncFilter } from '../sync/filter.ts';
import { loadStoredBase, storeBase } from './bases.ts';
import { IndexCatalog, indexName } from './index-catalog.ts';
import { OpTailCache } from './op-tail-cache.ts';
import { recordKey } from './record-key.ts';
import { RecordStarts } from './record-starts.ts';
import { type DotRange, VoidSet } from './voids.ts';

export { recordKey };

export type Doc = Record<string, import('../values/value.ts').Value>;

/** A record a committed write changed: what it showed before and after (undefined: absent). */
export interface CommittedChange {
  readonly collection: string;
  readonly id: string;
  readonly before: Doc | undefined;
  readonly after: Doc | undefined;
  /** Written by another process (picked up): `before` is unknown. */
  readonly external?: boolean;
}

export type CommitListener = (changes: readonly CommittedChange[]) => void;

/**
 * Ops a commit made durable, who supplied them (undefined: local writes), and the origins whose
 * version moved in it (with dots counted without ops, as a partial replica's skips; undefined:
 * any origin may have moved, as after a snapshot or another process's writes).
 */
export type OpsListener = (ops: readonly Op[], source: unknown, moved?: ReadonlySet<NodeId>) => void;

export interface RecordKey {
  readonly collection: string;
  readonly id: string;
}

/**
 * After a commit of a partial replica: records it dropped (they left its filter), and records
 * it got ops of without holding them (to be asked for whole).
 */
/**
 * A partial replica's commit changed what it holds: records dropped (they left its filter),
 * records received whole (with no new op, if their ops were already in the log), and records
 * it got ops of without holding them, to ask for whole.
 */
export type MembershipListener = (change: MembershipChange) => void;
export interface MembershipChange {
  readonly evicted: readonly RecordKey[];
  readonly entered: readonly RecordKey[];
  readonly needed: readonly RecordKey[];
}

/** What a sync session hands the engine to apply, in one transaction, in order. */
export type SyncItem =
  /** `signed`: a run of another device's ops that came with its author's verified signature. */
  | { readonly kind: 'ops'; readonly ops: readonly Op[]; readonly signed?: boolean }
  /** Dots accounted for without content: ops a partial replica's filter withheld. */
  | { readonly kind: 'skip'; readonly node: NodeId; readonly from: number; readonly to: number }
  /** A record entering a partial replica: its ops (in parts; rebuilt on the last). */
  | {
      readonly kind: 'record';
      readonly collection: string;
      readonly id: string;
      readonly ops: readonly Op[];
      readonly last: boolean;
      /** The sender had seen every dot this replica counted: the rebuilt record is whole. */
      readonly complete?: boolean;
    }
  /** A record that left the filter at the serving side. */
  | { readonly kind: 'gone'; readonly collection: string; readonly id: string }
  /** Dots a relay judged void (rejected writes): counted, and their effects removed if applied. */
  | { readonly kind: 'void'; readonly node: NodeId; readonly from: number; readonly to: number };

/**
 * Judges an op received from a peer before it is applied (a relay's write rules): `before` and
 * `after` are the record's docs without and with it (undefined: absent or deleted). False: the
 * op becomes a void.
 */
export type WriteJudge = (op: Op, before: Doc | undefined, after: Doc | undefined) => boolean;

/** Dots that became void in one commit, and the ops among them that had been applied here. */
export interface VoidChange {
  readonly ranges: readonly DotRange[];
  /** Applied here before the verdict came; their effects are gone now. */
  readonly removed: readonly Op[];
  /** Who brought the verdict (a session), or undefined for a judge here. */
  readonly source: unknown;
}
export type VoidListener = (change: VoidChange) => void;

export interface EngineInit {
  storage: Storage;
  cipher: PayloadCipher;
  nodeId: NodeId;
  clock: HybridClock;
}

/**
 * Largest encoded op a write may produce (a huge value in one field): every op must fit a sync
 * frame (4 MiB by default, batches take half) with room to spare.
 */
export const MAX_OP_BYTES = 1024 * 1024;

/** Clean record states kept in memory between writes; beyond it the cache is dropped. */
const RECORD_CACHE_SIZE = 10_000;
/** Docs kept for the sync layer (readDocShared). */
const DOC_CACHE_SIZE = 4_096;
/** Newest ops kept decoded for sync sessions (see OpTailCache). */
const OP_CACHE_SIZE = 4_096;
const META_HLC = 'hlc';
const META_SEQ = 'seq';
/** Highest seq of this node's id that a peer reported holding beyond what this store issued. */
const META_REUSED = 'identity_reused';
/** A partial replica's selective-sync filter. */
const META_FILTER = 'sync_filter';
/** Records a partial replica holds from its own writes only (see #applyFilter). */
const META_INCOMPLETE = 'sync_incomplete';

/**
 * Associated data of a record payload: its place, and its version (the number of the record's
 * ops in the op log), so a row moved elsewhere or rolled back to an older version fails to open.
 */
export const recordAad = (kind: string, collection: string, id: string, version: number) =>
  `${kind}:${version}:${collection.length}:${collection}:${id}`;
export const opAad = (node: string, seq: number) => `op:${node}:${seq}`;

export class Engine {
  readonly storage: Storage;
  readonly cipher: PayloadCipher;
  readonly clock: HybridClock;
  #replica: Replica;
  #nodeId: NodeId;
  #inWrite = false;
  #pendingOps: Op[] = [];
  #committed = new Map<string, CommittedChange>();
  readonly #listeners = new Set<CommitListener>();
  readonly #opsListeners = new Set<OpsListener>();
  /** Ops flushed in the current write, for the ops listeners after commit. */
  #committedOps: Op[] = [];
  /** Stored size of each committed op (for the op cache). */
  #committedSizes: number[] = [];
  /** Recently read or written docs, for the sync layer (see readDocShared); insertion-ordered. */
  readonly #docCache = new Map<string, Doc | undefined>();
  /** Which committed inserts started their record (full replicas; see startsRecord). */
  readonly #recordStarts = new RecordStarts();
  /** Moves whenever a record's doc may have changed (see docsVersion). */
  #docsVersion = 0;
  /** Full replicas: the newest committed ops, decoded (a partial replica's log has gaps). */
  readonly #opCache = new OpTailCache(OP_CACHE_SIZE);
  #docCacheSize = DOC_CACHE_SIZE;
  readonly #notifications: (() => void)[] = [];
  #notifying = false;
  #source: unknown;
  /** Ops other processes committed, to announce (see #refreshIfChangedElsewhere). */
  #externalNotice: (() => void) | undefined;
  /** Reused for every payload a flush encodes (finish() copies out). */
  readonly #encoder = new Encoder(1024);
  readonly #catalog: IndexCatalog;
  /** Set on a partial replica: the records it holds (docs/protocol.md, Selective sync). */
  #filter: SyncFilter | undefined;
  /** Partial replicas: dots of this write's ops not yet in the log (see #isApplied). */
  readonly #pendingDots = new Set<string>();
  /** Origins whose vector entry moved without an op (skipped dots). */
  readonly #accountedNodes = new Set<NodeId>();
  /** Origins whose version moved in this write (#accountedNodes outlives a flush within it). */
  #movedOrigins = new Set<NodeId>();
  #evicted: RecordKey[] = [];
  /** Records a partial replica received whole in this write (see onMembership). */
  #entered: RecordKey[] = [];
  /**
   * Records a partial replica shows because its own write put them in its filter, without the
   * rest of their ops (they may exist elsewhere): not listed as held, so a server sends them
   * whole. Persisted; `#rebuilt` marks records made whole in the current write.
   */
  #incomplete = new Map<string, RecordKey>();
  #incompleteChanged = false;
  readonly #rebuilt = new Set<string>();
  /** Records inserted in this write under ids generated here (whole from the start). */
  readonly #freshIds = new Set<string>();
  readonly #membershipListeners = new Set<MembershipListener>();
  /** Void dots (rejected writes), loaded with the replica; see src/db/voids.ts. */
  #voids = new VoidSet();
  readonly #voidListeners = new Set<VoidListener>();
  readonly #versionListeners = new Set<(moved: ReadonlySet<NodeId>) => void>();
  /** Dots that became void in this write, and the applied ops they removed. */
  #voidedRanges: DotRange[] = [];
  #voidedOps: Op[] = [];
  readonly #filterListeners = new Set<() => void>();
  /** Run inside every write transaction, before it commits (state that rides along, like acks). */
  readonly #beforeCommit: (() => void)[] = [];
  readonly #afterRollback: (() => void)[] = [];
  #parked = new Map<string, RecordKey>();
  /** States a snapshot brought already encoded (see putMergedState); taken by the next flush. */
  readonly #preEncoded = new Map<RecordState, Uint8Array>();
  /** Bumped whenever memory is reloaded from the store (a rollback, another process's commit). */
  generation = 0;

  constructor(init: EngineInit) {
    this.storage = init.storage;
    this.cipher = init.cipher;
    this.clock = init.clock;
    this.#nodeId = init.nodeId;
    this.storage.changedElsewhere(); // start watching for other processes' commits from here
    this.#catalog = new IndexCatalog(this.storage);
    this.#replica = this.#loadReplica();
    this.#loadFilter();
  }

  get replica(): Replica {
    return this.#replica;
  }

  get inWrite(): boolean {
    return this.#inWrite;
  }

  /** Runs `fn` (replica writes) as one durable transaction; nested calls join the outer one. */
  write<T>(fn: () => T): T {
    if (this.#inWrite) return fn();
    this.#inWrite = true;
    const nodeIdBefore = this.#nodeId;
    let result: T;
    try {
      result = this.storage.transaction(() => {
        this.#refreshIfChangedElsewhere();
        this.cipher.reload?.(false);
        const r = fn();
        this.#flush();
        return r;
      });
    } catch (err) {
      this.#pendingOps = [];
      this.#committedOps = [];
      this.#committedSizes = [];
      this.#committed.clear();
      this.#pendingDots.clear();
      this.#accountedNodes.clear();
      this.#movedOrigins.clear();
      this.#evicted = [];
      this.#entered = [];
      this.#voidedRanges = [];
      this.#voidedOps = [];
      this.#parked.clear();
      this.#rebuilt.clear();
      this.#freshIds.clear();
      this.#recordStarts.discard();
      this.#incompleteChanged = false;
      this.#source = undefined;
      // Everything in memory goes back to what the store holds.
      this.#nodeId = nodeIdBefore;
      this.#catalog.reload();
      this.cipher.reload?.(true);
      this.#replica = this.#loadReplica();
      this.#loadFilter();
      this.#docsVersion++;
      this.#docCache.clear();
      this.#opCache.clear();
      this.#inWrite = false;
      for (const hook of this.#afterRollback) hook();
      this.#announceExternal();
      throw err;
    } finally {
      this.#inWrite = false;
    }
    const changes = [...this.#committed.values()];
    this.#committed.clear();
    const ops = this.#committedOps;
    if (!this.#filter && ops.length > 0) this.#recordStarts.commit(ops);
    const moved = this.#movedOrigins;
    this.#movedOrigins = new Set();
    const source = this.#source;
    // A record dropped and sent whole again in one write (GONE then RECORD) is held: only where
    // each one ended up counts.
    const held = (r: RecordKey) => this.#replica.recordState(r.collection, r.id)?.held ?? false;
    const evicted = this.#evicted.length > 0 ? this.#evicted.filter((r) => !held(r)) : this.#evicted;
    // Entered whole: an incomplete record (sent by a server that lacked ops this side counted)
    // is not, until a complete one comes.
    const whole = (r: RecordKey) => held(r) && !this.#incomplete.has(recordKey(r.collection, r.id));
    const entered = this.#entered.length > 0 ? this.#entered.filter(whole) : this.#entered;
    const needed = [...this.#parked.values()];
    const voided: VoidChange | undefined =
      this.#voidedRanges.length > 0 ? { ranges: this.#voidedRanges, removed: this.#voidedOps, source } : undefined;
    this.#voidedRanges = [];
    this.#voidedOps = [];
    if (!this.#filter) {
      for (const [i, op] of ops.entries()) this.#opCache.add(op, this.#committedSizes[i] as number);
    }
    this.#committedSizes = [];
    this.#committedOps = [];
    this.#evicted = [];
    this.#entered = [];
    this.#parked.clear();
    this.#source = undefined;
    this.#replica.evictClean(RECORD_CACHE_SIZE);
    this.#announceExternal();
    this.#notify(() => {
      // Voids first: a session tells its peer a dot is void before ops after it.
      if (voided) for (const listener of this.#voidListeners) listener(voided);
      if (changes.length > 0) for (const listener of this.#listeners) listener(changes);
      if (ops.length > 0) for (const listener of this.#opsListeners) listener(ops, source, moved);
      if (moved.size > 0) for (const listener of this.#versionListeners) listener(moved);
      if (evicted.length > 0 || entered.length > 0 || needed.length > 0) {
        for (const listener of this.#membershipListeners) listener({ evicted, entered, needed });
      }
    });
    return result;
  }

  /**
   * Delivers commit notifications in commit order: a listener that writes (a subscriber
   * reacting to a change) queues its commit's notification behind the one being delivered.
   */
  #notify(deliver: () => void): void {
    this.#notifications.push(deliver);
    if (this.#notifying) return;
    this.#notifying = true;
    try {
      for (let next = this.#notifications.shift(); next; next = this.#notifications.shift()) next();
    } finally {
      this.#notifying = false;
    }
  }

  /**
   * Picks up commits another process made to the store (a `blaze` command while a peer runs):
   * see #refreshIfChangedElsewhere. Returns how many ops arrived that way.
   */
  pickUpExternalWrites(): number {
    if (this.#inWrite) return 0;
    const picked = this.#refreshIfChangedElsewhere();
    this.#announceExternal();
    return picked;
  }

  /**
   * Another process committed to the store: drop what we cached, and queue a notice of the ops
   * it added (sync sessions send them on; live queries re-run for their records, whose earlier
   * view is unknown). The notice goes out after the current write, or at once outside one.
   */
  #refreshIfChangedElsewhere(): number {
    if (!this.storage.changedElsewhere()) return 0;
    this.#docsVersion++;
    this.#docCache.clear();
    this.#opCache.clear();
    const before = this.#replica.version.toMap();
    this.cipher.reload?.(false);
    this.#catalog.reload();
    this.#replica = this.#loadReplica();
    this.#loadFilter();
    const ops: Op[] = [];
    for (const [node, seq] of this.#replica.version.toMap()) {
      const from = before.get(node) ?? 0;
      if (seq > from) ops.push(...this.opsAfter(node, from, seq - from, Number.POSITIVE_INFINITY, seq));
    }
    if (ops.length === 0) return 0;
    const touched = new Map<string, CommittedChange>();
    for (const op of ops) {
      const key = recordKey(op.collection, op.record);
      if (touched.has(key)) continue;
      const after = this.#replica.recordState(op.collection, op.record)?.view();
      touched.set(key, { collection: op.collection, id: op.record, before: undefined, after, external: true });
    }
    const changes = [...touched.values()];
    const earlier = this.#externalNotice;
    this.#externalNotice = () => {
      earlier?.();
      for (const listener of this.#listeners) listener(changes);
      for (const listener of this.#opsListeners) listener(ops, undefined);
    };
    return ops.length;
  }

  #announceExternal(): void {
    const notice = this.#externalNotice;
    this.#externalNotice = undefined;
    if (notice) this.#notify(notice);
  }

  /** Records a local op the replica just issued (inside `write`). */
  /**
   * Records a local op. `freshId`: it inserts a record under an id this node just generated, so
   * no other node can hold ops of it (a partial replica then holds it whole, see #applyFilter).
   */
  local(op: Op, options: { freshId?: boolean } = {}): Op {
    this.#pend(op);
    if (options.freshId && this.#filter) this.#freshIds.add(recordKey(op.collection, op.record));
    return op;
  }

  /** Queues an applied op for the log. */
  #pend(op: Op): void {
    this.#pendingOps.push(op);
    if (this.#filter) this.#pendingDots.add(dotKey(op.node, op.seq));
  }

  // ---- partial replicas (selective sync) ----

  /** The selective-sync filter of a partial replica; undefined for a full replica. */
  get filter(): SyncFilter | undefined {
    return this.#filter;
  }

  /**
   * Makes this replica partial, or changes its filter. Records the new filter does not match
   * are dropped locally (no delete op); records a wider filter adds come from the next server
   * (every session starts by reconciling which records the partial replica holds).
   */
  setFilter(filter: SyncFilter | undefined): void {
    const current = this.#filter;
    if (!filter) {
      if (current) throw new ValidationError('filter', 'a partial replica cannot become a full one; open a new store and sync it in full');
      return;
    }
    if (current?.key === filter.key) return;
    this.write(() => {
      this.storage.setMeta(META_FILTER, encodeValue(filter.spec as unknown as Doc));
      this.#filter = filter;
      // Every record goes through the filter at the flush (#applyFilter): dropped or stripped.
      for (const collection of this.storage.collections()) {
        const ids = [...this.#scanDocs(collection)].map(({ id }) => id);
        for (const id of ids) this.#replica.touch(collection, id);
      }
    });
    for (const listener of [...this.#filterListeners]) listener();
  }

  #loadFilter(): void {
    const stored = this.storage.getMeta(META_FILTER);
    this.#filter = stored ? SyncFilter.parse(decodeValue(stored)) : undefined;
    const incomplete = this.storage.getMeta(META_INCOMPLETE);
    this.#incomplete = new Map();
    for (const [collection, id] of incomplete ? (decodeValue(incomplete) as [string, string][]) : []) {
      this.#incomplete.set(recordKey(collection, id), { collection, id });
    }
  }

  #setIncomplete(collection: string, id: string, incomplete: boolean): void {
    const key = recordKey(collection, id);
    if (incomplete === this.#incomplete.has(key)) return;
    if (incomplete) this.#incomplete.set(key, { collection, id });
    else this.#incomplete.delete(key);
    this.#incompleteChanged = true;
  }

  /** Records a partial replica shows from its own writes only (it asks servers for them whole). */
  incompleteRecords(): RecordKey[] {
    return [...this.#incomplete.values()];
  }

  /** The records a partial replica holds (a server reconciles them with what its filter matches). */
  heldRecords(): RecordKey[] {
    const out: RecordKey[] = [];
    for (const collection of this.#filter?.collections() ?? []) {
      for (const { id } of this.#scanDocs(collection)) if (!this.#incomplete.has(recordKey(collection, id))) out.push({ collection, id });
    }
    return out;
  }

  /** Called after the selective-sync filter changed (sessions restart with the new one). */
  onFilterChange(listener: () => void): () => void {
    this.#filterListeners.add(listener);
    return () => this.#filterListeners.delete(listener);
  }

  /** Called after a commit in which a partial replica dropped records or parked ops. */
  onMembership(listener: MembershipListener): () => void {
    this.#membershipListeners.add(listener);
    return () => this.#membershipListeners.delete(listener);
  }

  /**
   * Applies what a sync session received, in one transaction. A partial replica that gets
   * ops of records it does not hold parks them in the log and reports the records (see
   * onMembership), to be asked for whole.
   */
  applySync(items: readonly SyncItem[], source?: unknown, judge?: WriteJudge): void {
    this.write(() => {
      this.#source = source;
      for (const item of items) {
        if (item.kind === 'ops') {
          for (const op of item.ops) this.#applySynced(op, judge);
          continue;
        }
        if (item.kind === 'void') {
          this.#voidDots(item.node, item.from, item.to);
          continue;
        }
        if (!this.#filter) throw new ValidationError('sync', `a full replica takes no '${item.kind}' (it is for partial replicas)`);
        if (item.kind === 'skip') {
          this.#replica.version.addRange(item.node, item.from, item.to);
          // Dots of this node's own id it did not issue: the store was restored or cloned.
          this.noteRemoteSeq(item.node, item.to);
          this.#accountedNodes.add(item.node);
        } else if (item.kind === 'record') {
          this.#receiveRecord(item.collection, item.id, item.ops, item.last, item.complete ?? true);
        } else {
          this.#drop(item.collection, item.id);
        }
      }
    });
  }

  #applySynced(op: Op, judge: WriteJudge | undefined): void {
    if (!this.#filter) {
      if (this.#replica.version.has(op.node, op.seq)) return; // applied, or void
      if (judge) {
        this.#applyJudged(op, judge);
        return;
      }
      if (this.#replica.apply(op)) this.#pendingOps.push(op);
      return;
    }
    if (this.#voids.has(op.node, op.seq)) return;
    const version = this.#replica.version;
    const held = op.collection === SCHEMA_COLLECTION || (this.#replica.recordState(op.collection, op.record)?.held ?? false);
    if (!held) {
      // A record not held here (it left while the peer sent this, or the peer cannot judge it):
      // the op is parked in the log, in no record state, and the record asked for whole. If it
      // enters, it is rebuilt from the log, parked ops included.
      if (this.#isApplied(op.node, op.seq)) return;
      if (!version.has(op.node, op.seq)) version.add(op.node, op.seq);
      this.#pend(op);
      // An empty row, so a record with ops in the log has one (encrypted stores check it).
      // Its row is rewritten too: an encrypted row is sealed under the record's op count.
      if (!this.#replica.recordState(op.collection, op.record)) this.#replica.replaceRecord(op.collection, op.record, new RecordState());
      else this.#replica.touch(op.collection, op.record);
      this.#parked.set(recordKey(op.collection, op.record), { collection: op.collection, id: op.record });
      return;
    }
    if (version.has(op.node, op.seq)) {
      // Counted already: applied (a duplicate), or skipped earlier and now sent for a record held.
      if (this.#isApplied(op.node, op.seq)) return;
      this.#replica.apply(op, true);
    } else {
      this.#replica.apply(op);
    }
    this.#pend(op);
  }

  /** Whether an op was applied here (on a partial replica the vector also counts skipped dots). */
  #isApplied(node: NodeId, seq: number): boolean {
    if (!this.#replica.version.has(node, seq)) return false;
    return !this.#filter || this.#pendingDots.has(dotKey(node, seq)) || this.storage.getOp(node, seq) !== undefined;
  }

  /** Stores a record's ops sent whole; on the last part, rebuilds the record from every op of it held. */
  #receiveRecord(collection: string, id: string, ops: readonly Op[], last: boolean, complete: boolean): void {
    // Loaded (or created) before its ops land in the log: an encrypted row is checked against
    // its op count when loaded.
    if (!this.#replica.recordState(collection, id)) this.#replica.replaceRecord(collection, id, new RecordState());
    else this.#replica.touch(collection, id);
    const version = this.#replica.version;
    for (const op of ops) {
      if (this.#voids.has(op.node, op.seq)) continue;
      if (!version.has(op.node, op.seq)) {
        version.add(op.node, op.seq);
        this.#accountedNodes.add(op.node);
        this.noteRemoteSeq(op.node, op.seq);
      } else if (this.#isApplied(op.node, op.seq)) {
        continue;
      }
      this.#pend(op);
    }
    if (!last) return;
    // The log now holds every op of the record this replica has: folding them in a fresh
    // replica gives exactly the state their merge defines, whatever was skipped before.
    this.#flushOps();
    const scratch = new Replica({ nodeId: this.#nodeId, clock: this.clock });
    for (const op of this.opsOfRecord(collection, id)) scratch.apply(op);
    this.#replica.replaceRecord(collection, id, scratch.recordState(collection, id) ?? new RecordState());
    this.#rebuilt.add(recordKey(collection, id));
    this.#entered.push({ collection, id });
    this.#setIncomplete(collection, id, !complete);
  }

  // ---- voids (rejected writes, docs/relay.md) ----

  /**
   * Applies an op a judge must pass: on the record as it is, since nearly every op passes; one
   * that does not is voided at once, which rebuilds its record without it (and tells no one it
   * was removed: it was never applied outside this write).
   */
  #applyJudged(op: Op, judge: WriteJudge): void {
    const before = this.#replica.recordState(op.collection, op.record)?.view();
    if (!this.#replica.apply(op)) return;
    this.#pendingOps.push(op);
    if (judge(op, before, this.#replica.recordState(op.collection, op.record)?.view())) return;
    const removed = this.#voidedOps.length;
    this.#voidDots(op.node, op.seq, op.seq);
    this.#voidedOps.splice(removed);
  }

  /**
   * Makes dots void (inside `write`): counted, never applied from now on, and any of them applied
   * here removed from the log with their records rebuilt from what is left.
   */
  #voidDots(node: NodeId, from: number, to: number): void {
    const fresh = this.#voids.add(node, from, to);
    if (fresh.length === 0) return;
    this.#voidedRanges.push({ node, from, to });
    const records = new Map<string, RecordKey>();
    const note = (op: { collection: string; record: string }) =>
      records.set(recordKey(op.collection, op.record), { collection: op.collection, id: op.record });
    const isVoided = (op: Op) => op.node === node && fresh.some((r) => op.seq >= r.from && op.seq <= r.to);
    // Applied in this very write: out of the pending ops, so the flush does not log them.
    const pending = this.#pendingOps.filter(isVoided);
    if (pending.length > 0) {
      this.#pendingOps = this.#pendingOps.filter((op) => !isVoided(op));
      for (const op of pending) {
        this.#pendingDots.delete(dotKey(op.node, op.seq));
        this.#voidedOps.push(op);
        note(op);
      }
    }
    // The logged ops among the fresh dots, found by walking the log (a long range of dots never
    // held here costs nothing).
    let fromLog = false;
    for (const r of fresh) {
      for (let after = r.from - 1; after < r.to; ) {
        const stored = this.storage.opsAfter(node, after, 256).filter((op) => op.seq <= r.to);
        if (stored.length === 0) break;
        for (const row of stored) {
          fromLog = true;
          const op = this.decodeStoredOp(row);
          this.storage.removeOp(node, row.seq);
          this.#voidedOps.push(op);
          note(op);
        }
        after = (stored.at(-1) as StoredOp).seq;
      }
    }
    // The rebuild reads the log: this write's other ops go there first (and a base copy of a
    // state that was its own base is kept by the flush).
    if (records.size > 0) this.#flush();
    // An op an earlier flush of this write logged and queued for the ops listeners is void now:
    // the listeners (sessions, the op cache) must not get it.
    if (this.#committedOps.some(isVoided)) {
      const keep = this.#committedOps.map((op) => !isVoided(op));
      this.#committedOps = this.#committedOps.filter((_, i) => keep[i]);
      this.#committedSizes = this.#committedSizes.filter((_, i) => keep[i]);
    }
    const version = this.#replica.version;
    version.addRange(node, from, to);
    this.noteRemoteSeq(node, to);
    this.#accountedNodes.add(node);
    this.#voids.save(this.storage);
    // The op cache would serve a removed op to sessions (an op judged and refused in this write
    // never reached it).
    if (fromLog) this.#opCache.clear();
    for (const { collection, id } of records.values()) this.#rebuild(collection, id);
  }

  /**
   * Rebuilds a record from its base state and the ops of it left in the log (after a void). A
   * partial replica's record it does not hold stays empty, but is asked for whole: the void may
   * put it back in the filter (its own write that had moved it out was refused), and only a
   * server can tell; so is one it showed from its own writes only.
   */
  #rebuild(collection: string, id: string): void {
    const current = this.#replica.recordState(collection, id);
    if (!current) return;
    if (this.#filter && collection !== SCHEMA_COLLECTION) {
      const key = recordKey(collection, id);
      // Not held, or shown from this replica's own writes only (an insert of an id it had
      // dropped): what is left in the log is no record to show. Asked for whole, a server sends
      // it or declares it gone (the simulator's rules-lan seed 42: a refused insert left a
      // dropped record shown, stale, for ever).
      if (!current.held || this.#incomplete.has(key)) this.#parked.set(key, { collection, id });
      if (!current.held) return;
    }
    const ops = this.opsOfRecord(collection, id);
    const inLog = new Set(ops.map((op) => dotKey(op.node, op.seq)));
    const scratch = new Replica({
      nodeId: this.#nodeId,
      clock: this.clock,
      // A write that observed a dot folded into the base, or void, does not wait for it.
      applied: (n, s) => scratch.version.has(n, s) || (this.#replica.version.has(n, s) && !inLog.has(dotKey(n, s))),
    });
    const base = loadStoredBase(this, collection, id);
    if (base) scratch.replaceRecord(collection, id, base);
    for (const op of ops) scratch.apply(op);
    const state = scratch.recordState(collection, id) ?? new RecordState();
    state.baseIsState = false;
    this.#replica.replaceRecord(collection, id, state);
  }

  /** Whether a dot is void (a relay rejected its op). */
  isVoid(node: NodeId, seq: number): boolean {
    return this.#voids.has(node, seq);
  }

  /** The void range holding a dot, if it is void. */
  voidRangeAt(node: NodeId, seq: number): DotRange | undefined {
    return this.#voids.rangeAt(node, seq);
  }

  /** Every void range this replica knows. */
  voidRanges(): DotRange[] {
    return this.#voids.ranges();
  }

  /** Called after each commit that made dots void (sessions pass the verdict on; apps are told). */
  onVoid(listener: VoidListener): () => void {
    this.#voidListeners.add(listener);
    return () => this.#voidListeners.delete(listener);
  }

  /** Drops a record from a partial replica (it left the filter): its ops stay in the log. */
  #drop(collection: string, id: string): void {
    this.#setIncomplete(collection, id, false);
    if (collection === SCHEMA_COLLECTION || !this.#replica.recordState(collection, id)?.held) return;
    this.#replica.replaceRecord(collection, id, new RecordState());
    this.#evicted.push({ collection, id });
  }

  /** Every stored op of one record, decoded, in no particular order. */
  opsOfRecord(collection: string, id: string): Op[] {
    return this.storage.opsOfRecord(collection, id).map((stored) => this.decodeStoredOp(stored));
  }

  /** Adds work to every write transaction, run just before it commits. */
  beforeCommit(hook: () => void): void {
    this.#beforeCommit.push(hook);
  }

  /**
   * Adds work to run after a write rolled back: state that rode along (see beforeCommit) and
   * thought itself stored must be stored again with the next write.
   */
  afterRollback(hook: () => void): void {
    this.#afterRollback.push(hook);
  }

  /** Called after each commit with the ops it made durable (sync sessions push them on). */
  onOps(listener: OpsListener): () => void {
    this.#opsListeners.add(listener);
    return () => this.#opsListeners.delete(listener);
  }

  /**
   * Called after each commit that moved the version vector, whatever moved it (ops, skipped
   * dots, voids): the origins that moved. Ops listeners hear only of commits with ops.
   */
  onVersion(listener: (moved: ReadonlySet<NodeId>) => void): () => void {
    this.#versionListeners.add(listener);
    return () => this.#versionListeners.delete(listener);
  }

  onCommit(listener: CommitListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // ---- snapshots ----

  /**
   * Replaces a record's merge state with one merged from a snapshot (inside `write`), and moves
   * the clock past its stamps. The caller joined it with the local state (src/gc/snapshot.ts).
   */
  putMergedState(collection: string, id: string, state: RecordState, encoded?: Uint8Array): void {
    this.#replica.replaceRecord(collection, id, state);
    // The snapshot's bytes of this very state: the flush stores them instead of encoding again.
    if (encoded) this.#preEncoded.set(this.#replica.recordState(collection, id) as RecordState, encoded);
    const latest = latestStamp(state);
    if (latest) this.clock.observe(latest, latest.node);
  }

  /**
   * Counts dots as held without their ops (inside `write`): a snapshot brought their effects.
   * Dots of this node's own id beyond what it issued mean the store was restored or cloned.
   */
  accountVersion(vector: ReadonlyMap<NodeId, number>): void {
    const version = this.#replica.version;
    for (const [node, seq] of vector) {
      if (seq <= version.get(node)) continue;
      version.addRange(node, version.get(node) + 1, seq);
      this.#accountedNodes.add(node);
      this.noteRemoteSeq(node, seq);
    }
  }

  /**
   * Tells ops listeners (sync sessions) that state changed without new ops (a snapshot was
   * applied): they look again at what their peers lack. `source` is not told.
   */
  announceChange(source: unknown): void {
    this.#notify(() => {
      for (const listener of this.#opsListeners) listener([], source);
    });
  }

  /** Inside a long `write` (a snapshot): stores what is pending so the record cache can shrink. */
  flushWithinWrite(): void {
    if (!this.#inWrite) return;
    this.#flush();
    this.#replica.evictClean(RECORD_CACHE_SIZE);
  }

  // ---- reads ----

  /**
   * Whether a committed op (the object ops listeners got) is the insert that started its record
   * on this full replica: its only op, nothing compacted before. Undefined when not known here
   * (a partial replica, an op not from a commit of this engine).
   */
  startsRecord(op: Op): boolean | undefined {
    return this.#recordStarts.startsRecord(op);
  }

  /**
   * A number that moves whenever any record's doc may have changed (a commit that touched
   * records, another process's commit, a rollback): docs read while it stays the same are still
   * current.
   */
  get docsVersion(): number {
    return this.#docsVersion;
  }

  /**
   * A record's doc, for the sync layer: kept in a small cache that every write updates (every
   * session serving a partial peer asks for the same records after a commit; reading each from
   * the store cost 25 µs per record per session). Shared: do not modify it.
   */
  readDocShared(collection: string, id: string): Doc | undefined {
    if (this.#inWrite) this.#flush();
    const key = recordKey(collection, id);
    if (this.#docCache.has(key)) return this.#docCache.get(key);
    const doc = this.readDoc(collection, id);
    this.#cacheDoc(key, doc);
    return doc;
  }

  #cacheDoc(key: string, doc: Doc | undefined): void {
    this.#docCache.delete(key);
    this.#docCache.set(key, doc);
    this.#trimDocCache();
  }

  /** Drops the oldest docs beyond the cache's size. */
  #trimDocCache(): void {
    while (this.#docCache.size > this.#docCacheSize) this.#docCache.delete(this.#docCache.keys().next().value as string);
  }

  /**
   * How many docs readDocShared keeps (default 4,096). A relay serving many partial peers
   * raises it: their sessions catch up at different places in the log and read the same docs.
   */
  set docCacheSize(size: number) {
    this.#docCacheSize = size;
    this.#trimDocCache();
  }

  /**
   * How many of the newest ops opsAfter keeps decoded (default 4,096): a relay serving many
   * sessions raises it, as they read every new op each.
   */
  set opCacheSize(size: number) {
    this.#opCache.limit = size;
  }

  /** Removes `node`'s ops through `throughSeq` from the log (compaction), `limit` at most. */
  compactOps(node: string, throughSeq: number, limit: number): ReturnType<Storage['compactOps']> {
    const removed = this.storage.compactOps(node, throughSeq, limit);
    // Only what the log no longer holds (a step may stop short of throughSeq).
    const through = removed.reduce((max, op) => Math.max(max, op.seq), 0);
    if (through > 0) this.#opCache.forget(node, through);
    return removed;
  }

  readDoc(collection: string, id: string): Doc | undefined {
    if (this.#inWrite) this.#flush();
    if (!this.cipher.encrypted) {
      const row = this.storage.getRecord(collection, id);
      return row?.doc ? this.#decodeDoc(collection, id, row.doc, 0) : undefined;
    }
    const { row, opCount } = this.#verifiedRow(collection, id);
    if (!row?.doc) return undefined;
    return this.#decodeDoc(collection, id, row.doc, opCount);
  }

  /**
   * An encrypted store's record row with its version, read in one snapshot, checked for
   * tampering that hides a record: a row missing although the log holds its ops, or a doc
   * removed although its (authenticated) state says the record exists.
   */
  #verifiedRow(collection: string, id: string): { row: RecordRow | undefined; opCount: number } {
    const { row, opCount } = this.storage.getRecordAndOpCount(collection, id);
    if (!row && opCount > 0) throw new TamperedDataError(`the row of a record with ${opCount} stored ops is missing`);
    if (row && !row.doc) {
      const state = decodeRecordState(this.cipher.open(recordAad('state', collection, id, opCount), row.state));
      if (state.visible) throw new TamperedDataError('the doc of an existing record was removed');
    }
    return { row, opCount };
  }

  /** The version a record's payloads are sealed under (only computed when encrypting). */
  #version(collection: string, id: string): number {
    return this.cipher.encrypted ? this.storage.opCountOfRecord(collection, id) : 0;
  }

  /** Existing records of a collection, decoded, in the order the store keeps them. */
  *#scanDocs(collection: string): Iterable<{ id: string; doc: Doc }> {
    if (!this.cipher.encrypted) {
      for (const [id, bytes] of this.storage.scanDocs(collection)) yield { id, doc: this.#decodeDoc(collection, id, bytes, 0) };
      return;
    }
    for (const [id, bytes, version] of this.storage.scanDocsWithOpCounts(collection)) {
      yield { id, doc: this.#decodeDoc(collection, id, bytes, version) };
    }
  }

  indexedPaths(collection: string): ReadonlySet<string> {
    if (!this.#inWrite) {
      this.#refreshIfChangedElsewhere();
      this.#announceExternal();
    }
    return this.#catalog.paths(collection);
  }

  plan(collection: string, condition: Condition): Plan {
    return planQuery(condition, this.indexedPaths(collection));
  }

  /**
   * `node`'s stored ops after `seq`, in order: at most `limit` of them, stopping before their
   * stored size passes `maxBytes` (always at least one), and never beyond `upTo`.
   */
  opsAfter(node: string, seq: number, limit: number, maxBytes = Number.POSITIVE_INFINITY, upTo = Number.POSITIVE_INFINITY): Op[] {
    const cached = this.#opCache.opsAfter(node, seq, limit, maxBytes, upTo);
    if (cached) return cached;
    const out: Op[] = [];
    let bytes = 0;
    for (const stored of this.storage.opsAfter(node, seq, limit)) {
      if (stored.seq > upTo) break;
      bytes += stored.payload.length;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(this.decodeStoredOp(stored));
    }
    return out;
  }

  /** Decodes an op read back from the store. */
  decodeStoredOp(stored: StoredOp): Op {
    return decodeOp(this.cipher.open(opAad(stored.node, stored.seq), stored.payload));
  }

  /** Records of `collection` matching `condition`, sorted and sliced by `options`. */
  find(collection: string, condition: Condition, options: ParsedOptions): { id: string; doc: Doc }[] {
    if (this.#inWrite) this.#flush();
    const plan = this.plan(collection, condition);
    const wanted = options.sort.length === 0 ? options.offset + options.limit : Number.POSITIVE_INFINITY;
    const out: { id: string; doc: Doc }[] = [];
    for (const candidate of this.#candidates(collection, plan)) {
      if (!matches(candidate.doc, condition)) continue;
      out.push(candidate);
      if (out.length >= wanted) break;
    }
    if (options.sort.length > 0) out.sort((a, b) => compareRecords(options.sort, a, b));
    return out.slice(options.offset, options.offset + options.limit);
  }

  *#candidates(collection: string, plan: Plan): Iterable<{ id: string; doc: Doc }> {
    if (plan.strategy === 'scan') {
      yield* this.#scanDocs(collection);
      return;
    }
    const seen = new Set<string>();
    const index = indexName(collection, plan.index as string);
    for (const range of plan.ranges) {
      for (const id of this.storage.scanIndex(index, range)) {
        if (seen.has(id)) continue;
        seen.add(id);
        const doc = this.readDoc(collection, id);
        if (doc) yield { id, doc };
      }
    }
  }

  #decodeDoc(collection: string, id: string, bytes: Uint8Array, version: number): Doc {
    return decodeValue(this.cipher.open(recordAad('doc', collection, id, version), bytes)) as Doc;
  }

  // ---- indexes ----

  createIndex(collection: string, path: string): boolean {
    if (this.#catalog.paths(collection).has(path)) return false;
    return this.write(() => this.#catalog.add(collection, path, this.#scanDocs(collection)));
  }

  dropIndex(collection: string, path: string): boolean {
    if (!this.#catalog.paths(collection).has(path)) return false;
    return this.write(() => this.#catalog.remove(collection, path));
  }

  // ---- persistence ----

  #flush(): void {
    this.#flushOps();
    const touched = this.#accountedNodes;
    const version = this.#replica.version;
    for (const node of touched) {
      this.#movedOrigins.add(node);
      this.storage.setVersion(node, { seq: version.get(node), ahead: version.aheadOf(node) });
    }
    const changes = this.#replica.takeChanges();
    if (changes.length > 0) this.#docsVersion++;
    if (this.#filter) {
      this.#applyFilter(changes);
      this.#rebuilt.clear();
      this.#freshIds.clear();
      if (this.#incompleteChanged) {
        this.#incompleteChanged = false;
        this.storage.setMeta(META_INCOMPLETE, encodeValue([...this.#incomplete.values()].map((r) => [r.collection, r.id])));
      }
    }
    for (const change of changes) {
      const { collection, id, state, before } = change;
      if (!change.wasHeld && !this.#filter && this.#opsListeners.size > 0) this.#recordStarts.noteUntouched(collection, id);
      // The state was its own base until this change: keep that copy for history.
      if (change.baseBefore) storeBase(this, collection, id, change.baseBefore);
      const after = state.view();
      const version = this.#version(collection, id);
      const doc = after ? this.cipher.seal(recordAad('doc', collection, id, version), encodeValue(after, this.#encoder)) : null;
      const encoded = this.#preEncoded.get(state) ?? encodeRecordState(state, this.#encoder);
      const stateBytes = this.cipher.seal(recordAad('state', collection, id, version), encoded);
      this.storage.putRecord(collection, id, { state: stateBytes, doc });
      this.#catalog.update(collection, id, before, after);
      const caching = this.#docCache.size > 0 || this.#opsListeners.size > 0;
      if (!caching && this.#listeners.size === 0) continue;
      const key = recordKey(collection, id);
      if (caching) this.#cacheDoc(key, after);
      if (this.#listeners.size === 0) continue;
      const earlier = this.#committed.get(key);
      this.#committed.set(key, { collection, id, before: earlier ? earlier.before : before, after });
    }
    this.#preEncoded.clear();
    this.cipher.flush?.();
    for (const hook of this.#beforeCommit) hook();
    if (touched.size > 0) {
      const e = new Encoder(16);
      const { wall, counter } = this.clock.last;
      writeVarUint(e, wall);
      writeVarUint(e, counter);
      this.storage.setMeta(META_HLC, e.finish());
      this.storage.setMeta(META_SEQ, varUint(this.#replica.lastSeq));
    }
    touched.clear();
  }

  /** Appends this write's pending ops to the log (the record rows follow in #flush). */
  #flushOps(): void {
    for (const op of this.#pendingOps) {
      const encoded = encodeOp(op, this.#encoder);
      if (encoded.length > MAX_OP_BYTES) {
        throw new ValidationError(
          `${op.collection}.${op.record}`,
          `one write encodes to ${encoded.length} bytes; the limit is ${MAX_OP_BYTES}`,
        );
      }
      const payload = this.cipher.seal(opAad(op.node, op.seq), encoded);
      this.storage.appendOp({ node: op.node, seq: op.seq, collection: op.collection, record: op.record, payload });
      if (this.#opsListeners.size > 0) {
        this.#committedOps.push(op);
        this.#committedSizes.push(payload.length);
      }
      this.#accountedNodes.add(op.node);
    }
    this.#pendingOps = [];
    this.#pendingDots.clear();
  }

  /**
   * A partial replica keeps only records its filter matches (a write that moves one out drops
   * it), and never shows excluded fields (its own writes to them still sync up).
   */
  #applyFilter(changes: readonly RecordChange[]): void {
    const filter = this.#filter as SyncFilter;
    for (const { collection, id, state, wasHeld } of changes) {
      for (const field of filter.excluded(collection)) state.fields.delete(field);
      if (!state.held) continue;
      if (filter.matches(collection, state.view())) {
        // Held now but not before, and not sent whole: this replica's own write did it. Whole
        // anyway if the write inserted it under an id generated here. With other ops of it in
        // the log (parked here), asked for whole at once: a server sends a writer its own insert
        // back only when it holds more of the record, and it may not have those ops.
        const key = recordKey(collection, id);
        if (!wasHeld && !this.#rebuilt.has(key) && !this.#freshIds.has(key)) {
          this.#setIncomplete(collection, id, true);
          if (this.storage.opCountOfRecord(collection, id) > 1) this.#parked.set(key, { collection, id });
        }
        continue;
      }
      this.#setIncomplete(collection, id, false);
      state.fields.clear();
      state.insert = undefined;
      state.tombstone = undefined;
      this.#evicted.push({ collection, id });
    }
  }

  #loadReplica(): Replica {
    this.generation++;
    this.#voids = VoidSet.load(this.storage);
    const version = new VersionVector();
    for (const [node, row] of this.storage.loadVersions()) version.restore(node as NodeId, row.seq, row.ahead);
    const hlc = this.storage.getMeta(META_HLC);
    if (hlc) {
      const d = new Decoder(hlc);
      this.clock.restore({ wall: readVarUint(d), counter: readVarUint(d) });
    }
    // META_SEQ is written in the same transaction as this node's ops, so it is exactly what this
    // store issued. Ops of its id beyond that came from elsewhere: the store was restored or
    // cloned, and the replica must refuse to write under this id again.
    const seqBytes = this.storage.getMeta(META_SEQ);
    const lastSeq = seqBytes ? readVarUint(new Decoder(seqBytes)) : 0;
    const replica = new Replica({
      nodeId: this.#nodeId,
      clock: this.clock,
      lastSeq,
      version,
      trackChanges: true,
      // Before-images feed index maintenance and live queries; skip the cost without them.
      needsBefore: (collection) => this.#catalog.has(collection) || this.#listeners.size > 0,
      applied: (node, seq) => this.#isApplied(node, seq),
      source: { load: (collection, id) => this.#loadState(collection, id) },
    });
    replica.noteRemoteSeq(this.#nodeId, version.highest(this.#nodeId));
    const reused = this.storage.getMeta(META_REUSED);
    if (reused) replica.noteRemoteSeq(this.#nodeId, readVarUint(new Decoder(reused)));
    return replica;
  }

  /**
   * A peer holds `seq` of `node` (from its version vector). If that is this node's id beyond what
   * it issued, the store was restored or cloned: remembered durably, so a restart or a failed
   * write does not forget that this id must not write again.
   */
  noteRemoteSeq(node: NodeId, seq: number): void {
    this.#replica.noteRemoteSeq(node, seq);
    if (node !== this.#nodeId || !this.#replica.identityReused) return;
    this.write(() => this.storage.setMeta(META_REUSED, varUint(seq)));
  }

  get nodeId(): NodeId {
    return this.#nodeId;
  }

  /** Switches to a new node id (the caller stored the new identity in this transaction). */
  adoptIdentity(nodeId: NodeId): void {
    this.write(() => {
      this.#nodeId = nodeId;
      this.#replica.adoptIdentity(nodeId);
      this.storage.setMeta(META_SEQ, varUint(this.#replica.lastSeq));
      this.storage.setMeta(META_REUSED, varUint(0));
    });
  }

  #loadState(collection: string, id: string): RecordState | undefined {
    if (!this.cipher.encrypted) {
      const row = this.storage.getRecord(collection, id);
      return row ? decodeRecordState(row.state) : undefined;
    }
    const { row, opCount } = this.#verifiedRow(collection, id);
    return row ? decodeRecordState(this.cipher.open(recordAad('state', collection, id, opCount), row.state)) : undefined;
  }
}

/** The highest stamp a record state holds (what a clock must pass after merging it). */
function latestStamp(state: RecordState): Stamp | undefined {
  let latest: Stamp | undefined;
  const consider = (stamp: Stamp | undefined) => {
    if (stamp && (!latest || compareStamps(stamp, latest) > 0)) latest = stamp;
  };
  consider(state.insert);
  consider(state.tombstone);
  for (const field of state.fields.values()) consider(field.latest);
  return latest;
}

function varUint(n: number): Uint8Array {
  const e = new Encoder(8);
  writeVarUint(e, n);
  return e.finish();
}
