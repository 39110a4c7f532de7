/**
 * BlazeDB: an embedded document database whose every change is a field-level op merged by
 * per-field CRDTs, ready to sync.
 *
 * Usage:
 *   const db = await BlazeDB.open({ path: './data' });
 *   const bugs = db.collection('bugs');
 *   const id = await bugs.insert({ title: 'Login broken', priority: 5 });
 *   await db.close();
 */

import { HybridClock } from '../clock/hlc.ts';
import { encodeOp } from '../codec/index.ts';
import { validateEncryptionOptions } from '../crypto/index.ts';
import { BlazeError, ValidationError } from '../errors.ts';
import { Collector, type CompactionResult, type GcStatus } from '../gc/collector.ts';
import { resolveGcOptions } from '../gc/options.ts';
import { type Identity, identityFromSeed, signWithSeed } from '../identity/identity.ts';
import type { NodeId } from '../identity/node-id.ts';
import type { FieldOp } from '../ops/op.ts';
import { backgroundScheduler, cryptoRandom, nextTurn, systemClock } from '../platform/index.ts';
import { type FindOptions, parseOptions, parseQuery, type Query } from '../query/index.ts';
import type { Random, Scheduler } from '../runtime.ts';
import { SyncFilter, type SyncFilterSpec } from '../sync/filter.ts';
import type { SnapshotProgress } from '../sync/session.ts';
import { validateRecordId } from '../values/validate.ts';
import { type AckLevel, AckTracker } from './acks.ts';
import { Collection, type Fields } from './collection.ts';
import { Engine } from './engine.ts';
import { ClosedError } from './errors.ts';
import { checkTime, History, type HistoryEntry, type TimePoint } from './history.ts';
import { LiveQueries } from './live.ts';
import {
  checkOpenOptionNames,
  loadOrCreateIdentity,
  META_IDENTITY,
  type OpenOptions,
  openStorage,
  setUpCipher,
  validateDbId,
} from './open.ts';
import { SignedRuns } from './signed-runs.ts';
import { type EnableSyncOptions, registeredSyncNetwork, type SyncNetwork } from './sync-network.ts';

export { type OpenOptions, STORE_FILE, validateDbId } from './open.ts';

export interface Stats {
  readonly dbId: string;
  readonly nodeId: NodeId;
  readonly storage: string;
  readonly encrypted: boolean;
  readonly collections: Readonly<Record<string, number>>;
  readonly opCount: number;
  readonly versionVector: Readonly<Record<string, number>>;
  /** Distributed GC: op-log size, frontier, members and their lag, last compaction (docs/gc.md). */
  readonly gc: GcStatus;
}

/** A read-only view of the database at a past time. */
export interface TimeView {
  collection(name: string): {
    get(id: string): Promise<Record<string, unknown> | undefined>;
    find(query?: Query, options?: FindOptions): Promise<Record<string, unknown>[]>;
  };
}

/** Sync is not set up on this database (the level asked for needs it). */
interface Extra {
  readonly gc: ReturnType<typeof resolveGcOptions>;
  readonly scheduler: Scheduler;
}

export class SyncNotEnabledError extends BlazeError {
  override name = 'SyncNotEnabledError';
}

export class BlazeDB {
  readonly dbId: string;
  readonly #engine: Engine;
  #identity: Identity;
  #signedRuns: SignedRuns | undefined;
  readonly #random: Random;
  readonly #live: LiveQueries;
  readonly #collections = new Map<string, Collection>();
  readonly #history: History;
  /** Peers' acknowledgements (sync sessions report them). */
  readonly acks: AckTracker;
  #closed = false;
  #network: SyncNetwork | undefined;
  #networkStarting = false;
  readonly #closeListeners = new Set<() => void>();
  readonly #gc: Collector;
  readonly #scheduler: Scheduler;
  readonly #onError: (err: unknown) => void;
  readonly #snapshotListeners = new Set<(progress: SnapshotProgress) => void>();

  private constructor(engine: Engine, identity: Identity, dbId: string, random: Random, onError: (err: unknown) => void, extra: Extra) {
    this.#engine = engine;
    this.#identity = identity;
    this.dbId = dbId;
    this.#random = random;
    this.#onError = onError;
    this.#scheduler = extra.scheduler;
    this.#live = new LiveQueries({ engine, onError });
    this.acks = new AckTracker(engine.storage);
    engine.beforeCommit(() => this.acks.save());
    engine.afterRollback(() => this.acks.markUnsaved());
    // The home relay signs its GC announcements with the device key (docs/gc.md).
    const sign = (bytes: Uint8Array) => ({ publicKey: this.#identity.publicKey, signature: signWithSeed(this.#identity.seed, bytes) });
    this.#gc = new Collector(engine, this.acks, () => this.nodeId, sign, extra.gc);
    this.#history = new History(engine, this.#gc.horizon);
    // Every live member holds what GC compacted: nobody needs those runs forwarded any more.
    this.#gc.onCompacted((frontier) => this.#signedRuns?.prune(frontier));
  }

  static async open(options: OpenOptions = {}): Promise<BlazeDB> {
    return BlazeDB.openSync(options);
  }

  /** `open`, synchronously (nothing in opening waits on I/O): for the simulator and tools. */
  static openSync(options: OpenOptions = {}): BlazeDB {
    checkOpenOptionNames(options);
    if (options.dbId !== undefined) validateDbId(options.dbId);
    if (options.encryption !== undefined) validateEncryptionOptions(options.encryption);
    if (options.identitySeed !== undefined) identityFromSeed(options.identitySeed); // throws on a bad seed
    const gc = resolveGcOptions(options.gc);
    const random = options.random ?? cryptoRandom;
    const storage = openStorage(options);
    try {
      const { identity, dbId, cipher } = storage.transaction(() => {
        const cipher = setUpCipher(storage, options.encryption, random);
        return { ...loadOrCreateIdentity(storage, cipher, random, options.dbId, options.identitySeed), cipher };
      });
      const clock = new HybridClock({
        wallClock: options.wallClock ?? systemClock,
        ...(options.maxDriftMs !== undefined ? { maxDriftMs: options.maxDriftMs } : {}),
        ...(options.onClockSkew ? { onSkew: options.onClockSkew } : {}),
      });
      const engine = new Engine({ storage, cipher, nodeId: identity.nodeId, clock });
      const onError = options.onError ?? ((err: unknown) => console.error('blazedb: subscriber failed:', err));
      return new BlazeDB(engine, identity, dbId, random, onError, { gc, scheduler: options.scheduler ?? backgroundScheduler });
    } catch (err) {
      storage.close();
      throw err;
    }
  }

  get nodeId(): NodeId {
    return this.#identity.nodeId;
  }

  /**
   * Takes a new device identity (key pair and node id). Needed after `IdentityReusedError`: this
   * store was restored from a backup or copied, and its old id is in use elsewhere. Records and
   * their history are kept; new writes are issued under the new id. Returns the new node id.
   */
  async renewIdentity(): Promise<NodeId> {
    this.#checkOpen();
    if (this.#network || this.#networkStarting) {
      throw new ValidationError('sync', 'disable sync before renewing the identity: the network key is the device identity');
    }
    const identity = identityFromSeed(this.#random.bytes(32));
    const engine = this.#engine;
    engine.write(() => {
      engine.storage.setMeta(META_IDENTITY, engine.cipher.seal('identity', identity.seed));
      engine.adoptIdentity(identity.nodeId);
    });
    this.#identity = identity;
    return identity.nodeId;
  }

  /**
   * Signatures of this device's op runs and of other devices' runs it can forward (docs/relay.md,
   * Authorship). Loaded on first use: a relay never signs or keeps any.
   */
  get signedRuns(): SignedRuns {
    this.#signedRuns ??= new SignedRuns({
      storage: this.#engine.storage,
      cipher: this.#engine.cipher,
      dbId: this.dbId,
      self: () => this.nodeId,
      sign: (digest) => signWithSeed(this.#identity.seed, digest),
      opsAfter: (node, seq, limit) => this.#engine.opsAfter(node, seq, limit),
      sizeOf: (op) => encodeOp(op).length,
    });
    return this.#signedRuns;
  }

  /** The device's Ed25519 public key (its identity on the network). */
  get publicKey(): Uint8Array {
    return this.#identity.publicKey;
  }

  /**
   * The device's Ed25519 private seed: the mesh peer makes it its libp2p key, so the device's
   * node id and peer id name one key. Keep it secret.
   */
  deviceKeySeed(): Uint8Array {
    this.#checkOpen();
    return new Uint8Array(this.#identity.seed);
  }

  /**
   * Starts syncing: with the Node entry, a libp2p peer that finds LAN peers by mDNS and keeps
   * the relays given (docs/mesh.md). Returns the running network, also `db.network`.
   */
  async enableSync(options: EnableSyncOptions = {}): Promise<SyncNetwork> {
    this.#checkOpen();
    if (this.#network || this.#networkStarting) throw new ValidationError('sync', 'sync is already enabled; disableSync() first');
    const factory = options.network ?? registeredSyncNetwork();
    if (!factory) {
      throw new SyncNotEnabledError("no network to sync over: import BlazeDB from the package's Node entry, or pass options.network");
    }
    // Checked first and set only once the network started: bad options change nothing.
    // 'rules': the network derives the filter before it syncs (it knows the relay's rules).
    const filter = options.filter !== undefined && options.filter !== 'rules' ? SyncFilter.parse(options.filter) : undefined;
    this.#networkStarting = true;
    let network: SyncNetwork;
    try {
      network = await factory(this, options);
    } finally {
      this.#networkStarting = false;
    }
    if (this.#closed) {
      // Closed while the network started: it must not outlive the database.
      await network.stop();
      throw new ClosedError();
    }
    this.#network = network;
    // `synced('relay-durable')` waits from now on, even before the first session is up.
    this.acks.attached = true;
    if (filter) this.#engine.setFilter(filter);
    return network;
  }

  /** Stops syncing: sessions end with a reason, nothing more is dialed. */
  async disableSync(): Promise<void> {
    const network = this.#network;
    this.#network = undefined;
    this.#gc.stop();
    await network?.stop();
  }

  /**
   * Folds ops every live member holds (at or below the home relay's announced frontier) into
   * base states and removes them from the op log, in bounded steps with other work let in
   * between. On the home relay it first decides the frontier. See docs/gc.md.
   */
  async compact(options: { onProgress?: (removedSoFar: number) => void } = {}): Promise<CompactionResult> {
    this.#checkOpen();
    let removed = 0;
    let steps = 0;
    for (;;) {
      const result = this.#gc.compactNow(1);
      removed += result.removed;
      steps += result.steps;
      options.onProgress?.(removed);
      if (result.done || result.removed === 0) return { ...result, removed, steps };
      // Let waiting writes and reads in between steps.
      await nextTurn();
      this.#checkOpen();
    }
  }

  /** The GC machinery, for the sync layer and tools. Not part of the app API. */
  get gcCollector(): Collector {
    return this.#gc;
  }

  /** Starts background compaction while syncing (the sync layer calls it; idempotent). */
  startBackgroundGc(scheduler: Scheduler = this.#scheduler): void {
    if (!this.#closed) this.#gc.start(scheduler, this.#onError);
  }

  /**
   * Called when the home relay says it evicted this device for silence (docs/gc.md): what it
   * lacks may be compacted away, so it resyncs from a snapshot; its own writes still merge.
   * Returns an unsubscribe.
   */
  onEvicted(listener: () => void): () => void {
    return this.#gc.onEvicted(() => listener());
  }

  /** Called while a snapshot from a peer arrives, and once it is applied. Returns an unsubscribe. */
  onSnapshotProgress(listener: (progress: SnapshotProgress) => void): () => void {
    this.#snapshotListeners.add(listener);
    return () => this.#snapshotListeners.delete(listener);
  }

  /** For the sync layer: reports a snapshot's progress to listeners. */
  reportSnapshotProgress(progress: SnapshotProgress): void {
    for (const listener of [...this.#snapshotListeners]) listener(progress);
  }

  /** The running network, once `enableSync` started one. */
  get network(): SyncNetwork | undefined {
    return this.#network;
  }

  collection<T extends Fields = Fields>(name: string): Collection<T> {
    this.#checkOpen();
    let c = this.#collections.get(name);
    if (!c) {
      c = new Collection(name, { engine: this.#engine, random: this.#random, live: this.#live });
      this.#collections.set(name, c);
    }
    return c as unknown as Collection<T>;
  }

  /**
   * Runs `fn` as one transaction: every write in it lands together or not at all. `fn` must be
   * synchronous; use the collections' `...Now` methods inside it.
   */
  transaction<R>(fn: () => R): R {
    this.#checkOpen();
    if (fn.constructor.name === 'AsyncFunction') {
      throw new ValidationError('fn', 'a transaction function must be synchronous (an await would end the transaction early)');
    }
    return this.#engine.write(() => {
      const result = fn();
      if (result instanceof Promise) throw new ValidationError('fn', 'a transaction function must not return a promise');
      return result;
    });
  }

  /** The ops that made a record, oldest first: who, when, which fields, old and new values. */
  history(collection: string, id: string): HistoryEntry[] {
    this.#checkOpen();
    validateRecordId(id);
    return this.#history.history(collection, id);
  }

  /** A read-only view of the database as it was at `time` (a Date or an HLC stamp). */
  asOf(time: TimePoint): TimeView {
    this.#checkOpen();
    const history = this.#history;
    checkTime(time);
    history.checkRetained(time);
    return {
      collection: (name: string) => ({
        get: async (id: string) => {
          validateRecordId(id);
          const doc = history.getAsOf(name, id, time);
          return doc ? { _id: id, ...doc } : undefined;
        },
        find: async (query?: Query, options?: FindOptions) =>
          history.findAsOf(name, time, parseQuery(query), parseOptions(options)).map(({ id, doc }) => ({ _id: id, ...doc })),
      }),
    };
  }

  /** Undoes an op by writing compensating ops (history is never rewritten); returns the new op's id. */
  async undo(opId: string): Promise<string> {
    this.#checkOpen();
    const engine = this.#engine;
    return engine.write(() => {
      const plan = this.#history.undoPlan(opId);
      const state = engine.replica.recordState(plan.collection, plan.record);
      // A multi-value field set back replaces whatever values it has now.
      const fields: FieldOp[] = plan.fields.map((f) =>
        f.type === 'mvset' ? { ...f, observed: state?.fields.get(f.field)?.mvDots() ?? [] } : f,
      );
      const op = engine.local(engine.replica.writeFields(plan.collection, plan.record, plan.kind, fields));
      return `${op.node}:${op.seq}`;
    });
  }

  /**
   * Resolves when every local write made so far has reached `level`: 'local-durable' at once
   * (writes resolve only then); 'relay-durable' once a relay acknowledged holding them.
   * `signal` abandons the wait.
   */
  async synced(level: AckLevel = 'local-durable', options: { signal?: AbortSignal } = {}): Promise<void> {
    this.#checkOpen();
    if (level === 'local-durable') return;
    if (level !== 'relay-durable') throw new ValidationError('level', "an acknowledgement level is 'local-durable' or 'relay-durable'");
    if (!this.acks.attached) throw new SyncNotEnabledError(`'${level}' needs sync, which is not enabled on this database`);
    await this.acks.waitFor(level, this.nodeId, this.#engine.replica.version.get(this.nodeId), options.signal);
  }

  /**
   * Makes this database a partial replica that syncs only what `filter` selects (records of the
   * listed collections matching `where`, without `exclude`d fields), or changes its filter.
   * Records outside it are dropped locally, not deleted. What a wider filter adds comes from
   * the next server session. A partial replica cannot become full again.
   * Throws FilterError for a bad filter. Semantics: docs/protocol.md (Selective sync).
   */
  async setSyncFilter(filter: SyncFilterSpec): Promise<void> {
    this.#checkOpen();
    this.#engine.setFilter(SyncFilter.parse(filter));
  }

  /** The selective-sync filter of a partial replica (undefined: a full replica). */
  get syncFilter(): SyncFilterSpec | undefined {
    return this.#engine.filter?.spec;
  }

  stats(): Stats {
    this.#checkOpen();
    const storage = this.#engine.storage;
    const collections: Record<string, number> = {};
    for (const name of storage.collections()) if (!name.startsWith('_')) collections[name] = storage.countDocs(name);
    return {
      dbId: this.dbId,
      nodeId: this.nodeId,
      storage: storage.kind,
      encrypted: this.#engine.cipher.encrypted,
      collections,
      opCount: storage.opCount(),
      versionVector: Object.fromEntries([...storage.loadVersions()].map(([node, row]) => [node, row.seq])),
      gc: this.#gc.status(),
    };
  }

  /** Names of the collections that hold or held records. */
  collectionNames(): string[] {
    return this.#engine.storage.collections().filter((n) => !n.startsWith('_'));
  }

  /** The engine, for the sync layer and tools. Not part of the app API. */
  get engine(): Engine {
    return this.#engine;
  }

  /** Called when the database closes (sync sessions end then). Returns an unsubscribe. */
  onClose(listener: () => void): () => void {
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.disableSync();
    this.#gc.stop();
    for (const listener of [...this.#closeListeners]) listener();
    this.#closed = true;
    this.#engine.storage.transaction(() => {
      this.acks.save();
      this.#gc.state.save();
    });
    this.#engine.storage.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError();
  }
}
