/**
 * A simulated device or relay: the real BlazeDB (memory storage, which a crash does not wipe,
 * as SQLite's committed transactions survive kill -9), real sync sessions over simulated links,
 * and the real connection policy. Only time, randomness and the network are simulated.
 */

import type { WriteJudge } from '../../src/db/engine.ts';
import { BlazeDB } from '../../src/db/index.ts';
import { ConnectionPolicy } from '../../src/policy/connection-policy.ts';
import type { Random, Scheduler } from '../../src/runtime.ts';
import { MemoryStorage } from '../../src/storage/index.ts';
import { SHARE_FRAMES_FROM_SESSIONS } from '../../src/sync/constants.ts';
import type { FrameDuplex } from '../../src/sync/duplex.ts';
import { databaseSource } from '../../src/sync/engine-source.ts';
import { SyncFilter } from '../../src/sync/filter.ts';
import { SyncSession } from '../../src/sync/session.ts';
import { SeededRandom } from '../../src/util/prng.ts';
import type { LinkProfile, Network } from './network.ts';
import type { World } from './world.ts';

export type Role = 'peer' | 'relay';

export interface SimNodeInit {
  readonly id: string;
  readonly role: Role;
  readonly world: World;
  readonly network: Network;
  readonly dbId: string;
  /** Every node, by id (to reach the one a dial lands on). */
  readonly directory: ReadonlyMap<string, SimNode>;
  readonly profile: (from: SimNode, to: SimNode) => LinkProfile;
  readonly relays: readonly string[];
  readonly sessionOptions: { batchWindowMs: number; ackIntervalMs: number; backoffBaseMs: number; backoffCapMs: number };
  /** Distributed GC: off, or how often nodes compact and when the home relay evicts. */
  readonly gc: { readonly enabled: boolean; readonly intervalMs: number; readonly evictAfterMs: number };
  /** A selective-sync filter (a partial replica). */
  readonly filter?: unknown;
  readonly trace: (line: string) => void;
  /** Storage to start from (a backup, or a clone of another device). */
  readonly storage?: MemoryStorage;
  /** A relay's write rules: ops from devices it refuses become voids (docs/relay.md). */
  readonly judge?: WriteJudge;
}

export class SimNode {
  readonly id: string;
  readonly role: Role;
  readonly init: SimNodeInit;
  storage: MemoryStorage;
  #db: BlazeDB | undefined;
  /** Added to virtual time to make this node's wall clock. */
  skewMs = 0;
  /** LAN segment it is on (undefined: none); peers on one segment find each other. */
  lan: string | undefined;
  /** The segment it starts on (and returns to at the final heal). */
  homeLan: string | undefined;
  /**
   * A restored or cloned device writes only after it has synced once: until then it cannot
   * know that its id went further elsewhere (see docs/simulator.md).
   */
  mustSyncBeforeWriting = false;
  /** A session of this incarnation with a relay reached sync. */
  syncedSinceStart = false;
  #up = false;
  /** Bumped on every crash: events of an older incarnation are ignored. */
  #incarnation = 0;
  #scheduler: (Scheduler & { cancelAll(): void }) | undefined;
  #policy: ConnectionPolicy | undefined;
  /** Live sessions, with the simulated node at the other end. */
  readonly #sessions = new Map<SyncSession, string>();
  readonly #random: SeededRandom;

  constructor(init: SimNodeInit) {
    this.init = init;
    this.id = init.id;
    this.role = init.role;
    this.storage = init.storage ?? new MemoryStorage();
    this.#random = new SeededRandom(init.world.random.u32());
  }

  get up(): boolean {
    return this.#up;
  }

  get db(): BlazeDB {
    if (!this.#db) throw new Error(`node ${this.id} is down`);
    return this.#db;
  }

  get sessions(): Iterable<SyncSession> {
    return this.#sessions.keys();
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Nodes this one has a session in sync with and can exchange frames with both ways now. */
  reachablePeers(): string[] {
    const network = this.init.network;
    return [...this.#sessions]
      .filter(([s, peer]) => s.state === 'syncing' && network.reachable(this.id, peer) && network.reachable(peer, this.id))
      .map(([, peer]) => peer);
  }

  /** Opens the store (again, after a crash) and starts syncing. */
  start(): void {
    const world = this.init.world;
    this.syncedSinceStart = false;
    this.#scheduler = world.scheduler();
    const gc = this.init.gc;
    this.#db = BlazeDB.openSync({
      storage: this.storage,
      dbId: this.init.dbId,
      wallClock: { now: () => 1_800_000_000_000 + world.now + this.skewMs },
      random: this.#random as Random,
      onError: (err) => this.init.trace(`${this.id} error ${String(err)}`),
      scheduler: this.#scheduler,
      // The first relay is the database's home relay: it alone decides frontier and evictions.
      gc: {
        authority: gc.enabled && this.id === this.init.relays[0],
        intervalMs: gc.enabled ? gc.intervalMs : 0,
        evictAfterMs: gc.evictAfterMs,
      },
    });
    if (this.init.filter && !this.#db.syncFilter) this.#db.engine.setFilter(SyncFilter.parse(this.init.filter));
    this.#up = true;
    const options = this.init.sessionOptions;
    this.#policy = new ConnectionPolicy({
      self: this.id,
      scheduler: this.#scheduler,
      random: this.#random,
      dial: (peer) => this.#dial(peer),
      backoffBaseMs: options.backoffBaseMs,
      backoffCapMs: options.backoffCapMs,
    });
    if (this.role === 'peer') for (const relay of this.init.relays) this.#policy.discovered(relay, 'relay');
    this.rediscover();
  }

  /** A second device started from a copy of this one's store (same identity). */
  cloneAs(id: string, storage: MemoryStorage): SimNode {
    const clone = new SimNode({ ...this.init, id, storage });
    clone.lan = this.lan;
    clone.homeLan = this.homeLan;
    return clone;
  }

  /** Whether the workload may write here now. */
  get writable(): boolean {
    return this.#up && (!this.mustSyncBeforeWriting || this.syncedSinceStart);
  }

  /** Crash: timers, sessions and memory go; the store keeps every committed transaction. */
  crash(): void {
    if (!this.#up) return;
    this.#up = false;
    this.#incarnation++;
    this.#scheduler?.cancelAll();
    this.#policy?.stop();
    this.#sessions.clear();
    this.init.network.dropAll(this.id);
    this.#db = undefined;
  }

  /**
   * mDNS view: which LAN peers this node sees now. A direct session with a peer no longer on
   * its segment breaks (the path is gone), and mDNS stops offering it.
   */
  rediscover(): void {
    const policy = this.#policy;
    if (!this.#up || !policy) return;
    for (const other of this.init.directory.values()) {
      if (other === this || other.role !== 'peer' || this.role !== 'peer') continue;
      if (this.lan !== undefined && other.lan === this.lan && other.up) {
        policy.discovered(other.id, 'lan');
      } else {
        policy.lost(other.id);
        this.init.network.dropBetween(this.id, other.id);
      }
    }
  }

  #dial(peer: string): void {
    const remote = this.init.directory.get(peer);
    const incarnation = this.#incarnation;
    const policy = this.#policy;
    if (!remote || !policy) return;
    this.init.network.dial(
      this.id,
      peer,
      this.init.profile(this, remote),
      ([mine, theirs]) => {
        if (incarnation !== this.#incarnation || !remote.#up) {
          mine.close();
          if (incarnation === this.#incarnation) policy.disconnected(peer);
          return;
        }
        this.#attach(peer, mine);
        remote.#attach(this.id, theirs);
      },
      () => {
        if (incarnation === this.#incarnation) policy.disconnected(peer);
      },
    );
  }

  #attach(peer: string, duplex: FrameDuplex): void {
    const world = this.init.world;
    const incarnation = this.#incarnation;
    const options = this.init.sessionOptions;
    const source = databaseSource(this.db);
    const judge = this.init.judge;
    if (judge && this.init.directory.get(peer)?.role !== 'relay') {
      const db = this.db;
      source.apply = (items, from) => db.engine.applySync(items, from, judge);
    }
    const session = new SyncSession({
      source,
      duplex,
      role: this.role,
      scheduler: this.#scheduler,
      batchWindowMs: options.batchWindowMs,
      ackIntervalMs: options.ackIntervalMs,
      defer: (fn) => world.after(0, () => incarnation === this.#incarnation && fn()),
      // As blaze-node does.
      ...(this.role === 'relay' ? { shareFrames: () => this.#sessions.size >= SHARE_FRAMES_FROM_SESSIONS } : {}),
    });
    this.#sessions.set(session, peer);
    session.onStateChange((state) => {
      if (state !== 'syncing' || incarnation !== this.#incarnation) return;
      // A relay holds every device's latest: syncing with one is what tells a restored or
      // cloned device that its id went further (a LAN peer may not know yet).
      if (this.init.directory.get(peer)?.role === 'relay' || this.init.relays.length === 0) this.syncedSinceStart = true;
      this.#policy?.connected(peer);
    });
    session.onClose((reason) => {
      if (incarnation !== this.#incarnation) return;
      this.#sessions.delete(session);
      this.init.trace(`${this.id} session with ${peer} closed: ${reason.code}`);
      this.#policy?.disconnected(peer);
    });
    session.start();
  }
}
