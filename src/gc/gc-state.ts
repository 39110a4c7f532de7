/**
 * What a node knows for distributed GC: the members of the database (devices it has synced
 * with, when each was last heard from, which were evicted), and the latest GC announcement of
 * the database's home relay: the causally stable frontier, and the evicted members.
 *
 * One authority decides. The home relay (`authority: true`) computes the stable frontier as the
 * pointwise minimum of its own version vector and every live member's acknowledged vector,
 * evicts members silent longer than `evictAfterMs`, and announces both under a generation
 * number. Every other node only takes announcements (gossiped by its sessions, through relays
 * and LAN peers alike) and never evicts on its own; so two sides of a long partition cannot
 * each evict the other, and no node compacts an op the home relay has not acknowledged (the
 * frontier never passes the relay's own vector). The frontier only moves forward.
 *
 * Persisted in the store's meta, written with the next write transaction like acknowledgements.
 */
import { decodeValue, encodeValue } from '../codec/index.ts';
import { nodeIdFromPublicKey, verifySignature } from '../identity/identity.ts';
import type { NodeId } from '../identity/node-id.ts';
import type { Storage } from '../storage/index.ts';
import { pointwiseMax, pointwiseMin, type Vector, vectorsEqual } from './vectors.ts';

/** The default silence after which the home relay evicts a member from the frontier. */
export const DEFAULT_EVICT_AFTER_MS = 30 * 24 * 3600 * 1000;
/** Evicted members an announcement lists at most (the most recently seen). */
export const MAX_ANNOUNCED_EVICTED = 1024;
/** A member's last-seen time is stored again only when it moved this much (not on every ACK). */
const LAST_SEEN_STORE_STEP_MS = 3600 * 1000;

const META_MEMBERS = 'gc_members';
const META_ANNOUNCEMENT = 'gc_announcement';

export interface GcAnnouncement {
  /** The home relay that decided it. */
  readonly authority: NodeId;
  /** Counts the authority's announcements: a node keeps the newest. */
  readonly generation: number;
  /** Ops at or below it are held by every live member (causally stable). */
  readonly frontier: Vector;
  /** Members evicted for silence (they come back through a snapshot). */
  readonly evicted: readonly NodeId[];
  /** The authority's Ed25519 public key (its node id is derived from it). */
  readonly publicKey: Uint8Array;
  /** The authority's signature of the fields above (announcementBytes). */
  readonly signature: Uint8Array;
}

/** What the authority signs: every field but the key and signature, in one canonical encoding. */
export function announcementBytes(a: Omit<GcAnnouncement, 'publicKey' | 'signature'>): Uint8Array {
  const frontier = [...a.frontier].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  return encodeValue(['blazedb-gc-1', a.authority, a.generation, frontier.flat(), [...a.evicted]]);
}

/** Signs announcement bytes as the authority: its public key and the signature. */
export type GcSigner = (bytes: Uint8Array) => { publicKey: Uint8Array; signature: Uint8Array };

export interface Member {
  readonly id: NodeId;
  /** Wall-clock ms when this node last heard from it (directly). */
  readonly lastSeen: number;
  readonly evicted: boolean;
  /** A partial replica (selective sync). */
  readonly partial: boolean;
  /** It came as a relay (the mesh lets only configured relays say so): a home relay to trust. */
  readonly relay: boolean;
}

export interface GcStateOptions {
  /** This node is the database's home relay: it decides the frontier and evictions. */
  authority?: boolean;
  /** Silence after which the authority evicts a member (default 30 days). */
  evictAfterMs?: number;
}

// Stores written before relays were marked hold four elements (relay reads as undefined: false).
type StoredMember = [id: string, lastSeen: number, evicted: boolean, partial: boolean, relay: boolean];
type StoredAnnouncement = [
  authority: string,
  generation: number,
  frontier: Record<string, number>,
  evicted: string[],
  publicKey: Uint8Array,
  signature: Uint8Array,
];

export class GcState {
  readonly #storage: Storage;
  readonly #members = new Map<NodeId, Member>();
  /** Last-seen times as stored (to store again only after LAST_SEEN_STORE_STEP_MS). */
  readonly #storedSeen = new Map<NodeId, number>();
  #latest: GcAnnouncement | undefined;
  #dirty = false;
  readonly #listeners = new Set<(announcement: GcAnnouncement) => void>();
  authority: boolean;
  evictAfterMs: number;

  constructor(storage: Storage, options: GcStateOptions = {}) {
    this.#storage = storage;
    this.authority = options.authority ?? false;
    this.evictAfterMs = options.evictAfterMs ?? DEFAULT_EVICT_AFTER_MS;
    this.reload();
  }

  /** Rereads what the store holds (after a rolled-back write, or another process's commit). */
  reload(): void {
    this.#members.clear();
    this.#storedSeen.clear();
    this.#dirty = false;
    const members = this.#storage.getMeta(META_MEMBERS);
    for (const [id, lastSeen, evicted, partial, relay] of members ? (decodeValue(members) as StoredMember[]) : []) {
      this.#members.set(id as NodeId, { id: id as NodeId, lastSeen, evicted, partial, relay: relay === true });
      this.#storedSeen.set(id as NodeId, lastSeen);
    }
    const stored = this.#storage.getMeta(META_ANNOUNCEMENT);
    if (stored) {
      const [authority, generation, frontier, evicted, publicKey, signature] = decodeValue(stored) as StoredAnnouncement;
      this.#latest = {
        authority: authority as NodeId,
        generation,
        frontier: new Map(Object.entries(frontier)) as Map<NodeId, number>,
        evicted: evicted as NodeId[],
        publicKey,
        signature,
      };
    } else {
      this.#latest = undefined;
    }
  }

  /** The newest announcement this node holds (its own, on the authority). */
  get latest(): GcAnnouncement | undefined {
    return this.#latest;
  }

  /** The stable frontier as announced (empty before any announcement). */
  get frontier(): Vector {
    return this.#latest?.frontier ?? new Map();
  }

  member(id: NodeId): Member | undefined {
    return this.#members.get(id);
  }

  members(): Member[] {
    return [...this.#members.values()];
  }

  /** Called with every new announcement this node adopts or makes (sessions pass it on). */
  onAnnouncement(listener: (announcement: GcAnnouncement) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * A session heard from `id` at `now`. A member evicted earlier is admitted again: it
   * resyncs from a snapshot, since what it lacks may be compacted away.
   */
  memberSeen(id: NodeId, now: number, partial: boolean, relay = false): void {
    const old = this.#members.get(id);
    // Nothing newer than what is known: no change (an evicted member stays evicted on stale news).
    if (old && now <= old.lastSeen && (old.evicted || (old.partial === partial && old.relay === relay))) return;
    const lastSeen = Math.max(now, old?.lastSeen ?? 0);
    this.#members.set(id, { id, lastSeen, evicted: false, partial, relay });
    const changed = !old || old.evicted || old.partial !== partial || old.relay !== relay;
    if (changed || lastSeen - (this.#storedSeen.get(id) ?? 0) >= LAST_SEEN_STORE_STEP_MS) this.#dirty = true;
  }

  /**
   * Adopts an announcement heard from a peer if it is signed by its authority and newer than the
   * one held. The first authority trusted is a relay this node met itself (a session where it
   * came as a relay); from then on only that authority's announcements count, whoever passes
   * them on. Returns whether it was adopted.
   */
  receive(announcement: GcAnnouncement): boolean {
    if (this.authority) return false;
    const held = this.#latest;
    if (held && (held.authority !== announcement.authority || announcement.generation <= held.generation)) return false;
    if (!held && !this.#members.get(announcement.authority)?.relay) return false;
    if (nodeIdFromPublicKey(announcement.publicKey) !== announcement.authority) return false;
    if (!verifySignature(announcement.publicKey, announcementBytes(announcement), announcement.signature)) return false;
    // The frontier only moves forward, whatever an announcement says.
    const frontier = held ? pointwiseMax(held.frontier, announcement.frontier) : new Map(announcement.frontier);
    this.#adopt({ ...announcement, frontier });
    return true;
  }

  /**
   * The home relay's decision, made from its own vector and its members' acknowledgements:
   * evicts members silent longer than evictAfterMs, and moves the frontier to what every live
   * member holds. Announces (and returns) a new generation when anything moved.
   *
   * While a live member is a partial replica the frontier holds still: the ops it skipped would
   * be compacted before it could be sent the records that need them, and filtered snapshots
   * are not built yet (docs/gc.md).
   */
  decide(
    self: NodeId,
    now: number,
    ownVersion: Vector,
    ackOf: (member: NodeId) => Vector | undefined,
    sign: GcSigner,
  ): GcAnnouncement | undefined {
    if (!this.authority) return undefined;
    let evictedChanged = false;
    for (const member of this.#members.values()) {
      if (member.id === self || member.evicted || now - member.lastSeen <= this.evictAfterMs) continue;
      this.#members.set(member.id, { ...member, evicted: true });
      this.#dirty = true;
      evictedChanged = true;
    }
    const live = [...this.#members.values()].filter((m) => !m.evicted && m.id !== self);
    const held = this.#latest?.authority === self ? this.#latest : undefined;
    let frontier: Vector = held?.frontier ?? new Map();
    if (!live.some((m) => m.partial)) {
      const stable = pointwiseMin([ownVersion, ...live.map((m) => ackOf(m.id) ?? new Map())]);
      frontier = pointwiseMax(frontier, stable);
    }
    // The most recently seen evicted members only: the list tells returning ones; it must not
    // outgrow a frame as devices come and go over the years.
    const evicted = [...this.#members.values()]
      .filter((m) => m.evicted)
      .sort((a, b) => b.lastSeen - a.lastSeen)
      .slice(0, MAX_ANNOUNCED_EVICTED)
      .map((m) => m.id);
    const evictedMoved = held === undefined || evictedChanged || evicted.length !== held.evicted.length;
    if (held && !evictedMoved && vectorsEqual(held.frontier, frontier)) return undefined;
    const unsigned = { authority: self, generation: (held?.generation ?? 0) + 1, frontier, evicted };
    const announcement: GcAnnouncement = { ...unsigned, ...sign(announcementBytes(unsigned)) };
    this.#adopt(announcement);
    return announcement;
  }

  #adopt(announcement: GcAnnouncement): void {
    this.#latest = announcement;
    this.#dirty = true;
    for (const listener of [...this.#listeners]) listener(announcement);
  }

  /** After a rolled-back write: what `save` stored in it is gone; store it all again. */
  markUnsaved(): void {
    this.#dirty = true;
    this.#storedSeen.clear();
  }

  /** Whether something changed that `save` has not stored yet. */
  get dirty(): boolean {
    return this.#dirty;
  }

  /** Stores what changed (called inside a write transaction). */
  save(): void {
    if (!this.#dirty) return;
    this.#dirty = false;
    const members: StoredMember[] = [...this.#members.values()].map((m) => [m.id, m.lastSeen, m.evicted, m.partial, m.relay]);
    for (const m of this.#members.values()) this.#storedSeen.set(m.id, m.lastSeen);
    this.#storage.setMeta(META_MEMBERS, encodeValue(members));
    const a = this.#latest;
    if (a) {
      const stored: StoredAnnouncement = [
        a.authority,
        a.generation,
        Object.fromEntries(a.frontier),
        [...a.evicted],
        a.publicKey,
        a.signature,
      ];
      this.#storage.setMeta(META_ANNOUNCEMENT, encodeValue(stored));
    }
  }
}
