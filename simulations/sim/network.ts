/**
 * Simulated links. A connection between two nodes is a pair of FrameDuplex ends whose frames
 * travel as world events: latency plus jitter, a bandwidth cap (frames queue behind each other),
 * and faults: a lost frame resets the connection (a real stream transport would fail, not skip
 * a frame), a duplicated or reordered frame reaches the session as it is (it must reject it and
 * reconnect cleanly). Partitions block pairs of nodes: both ways, connections across break at
 * once; one way, a connection stays half-open (frames that way wait, as a stream transport
 * retransmits them) until the way opens again or the transport's stall timeout resets it.
 * Dials across either fail.
 */
import { DuplexHandlers, type FrameDuplex } from '../../src/sync/duplex.ts';
import type { World } from './world.ts';

export interface LinkProfile {
  /** One-way latency, ms. */
  readonly latencyMs: number;
  /** Extra latency: uniform in [0, jitterMs), or exponential with mean jitterMs (a long tail). */
  readonly jitterMs: number;
  readonly jitter?: 'uniform' | 'exponential';
  /** Per frame: probability the frame is lost (the connection resets). */
  readonly loss: number;
  /** Per frame: probability it is delivered twice. */
  readonly duplicate: number;
  /** Per frame: probability it overtakes frames sent before it. */
  readonly reorder: number;
  /** Bytes per ms the link carries (undefined: unlimited). */
  readonly bandwidthBytesPerMs?: number;
}

/** Bytes a side may have in flight before `send` returns false. */
export const HIGH_WATER_BYTES = 256 * 1024;
/** A one-way outage is noticed by the transport (no acknowledgements) after this. */
export const STALL_TIMEOUT_MS = 10_000;
/** How often a transport retries frames held back by a one-way block. */
const STALL_RETRY_MS = 200;
/** How long a dial across a partition takes to fail. */
export const DIAL_TIMEOUT_MS = 3000;

export interface NetworkStats {
  framesSent: number;
  /** Frames held back on a one-way blocked link (delivered later, or lost with a reset). */
  framesStalled: number;
  bytesSent: number;
  framesLost: number;
  framesDuplicated: number;
  framesReordered: number;
  resets: number;
}

export class Network {
  readonly #world: World;
  /** Directed blocked pairs `a>b`, counted (partitions may overlap). */
  readonly #blocked = new Map<string, number>();
  readonly #open = new Set<SimConnection>();
  readonly stats: NetworkStats = {
    framesSent: 0,
    framesStalled: 0,
    bytesSent: 0,
    framesLost: 0,
    framesDuplicated: 0,
    framesReordered: 0,
    resets: 0,
  };
  /** Largest in-flight bytes seen on any connection direction (a queue-growth invariant). */
  maxInFlight = 0;

  constructor(world: World) {
    this.#world = world;
  }

  /** Nodes off the network altogether (a laptop between its daily syncs). */
  readonly #offline = new Set<string>();

  /** Whether frames can go from `a` to `b`. */
  reachable(a: string, b: string): boolean {
    return !this.#blocked.has(`${a}>${b}`) && !this.#offline.has(a) && !this.#offline.has(b);
  }

  /** Takes a node off the network (its connections break) or puts it back. */
  setOffline(node: string, offline: boolean): void {
    if (!offline) {
      this.#offline.delete(node);
      return;
    }
    this.#offline.add(node);
    this.dropAll(node);
  }

  /** Blocks `a` -> `b` (and `b` -> `a` unless one-way); breaks connections across it. */
  block(a: string, b: string, oneWay = false): void {
    const keys = oneWay ? [`${a}>${b}`] : [`${a}>${b}`, `${b}>${a}`];
    for (const k of keys) this.#blocked.set(k, (this.#blocked.get(k) ?? 0) + 1);
    if (!oneWay) {
      this.dropBetween(a, b);
      return;
    }
    // Half-open: the transport notices only when nothing comes back for a while.
    const open = [...this.#open].filter((c) => c.joins(a, b));
    this.#world.after(STALL_TIMEOUT_MS, () => {
      if (this.reachable(a, b)) return;
      for (const c of open) c.reset();
    });
  }

  /** Breaks every connection between `a` and `b` (a partition, or they left a shared LAN). */
  dropBetween(a: string, b: string): void {
    for (const c of [...this.#open]) if (c.joins(a, b)) c.reset();
  }

  /** Undoes one `block` with the same arguments. */
  unblock(a: string, b: string, oneWay = false): void {
    const keys = oneWay ? [`${a}>${b}`] : [`${a}>${b}`, `${b}>${a}`];
    for (const k of keys) {
      const n = (this.#blocked.get(k) ?? 0) - 1;
      if (n > 0) this.#blocked.set(k, n);
      else this.#blocked.delete(k);
    }
  }

  /** Removes every block, and brings every node online. */
  healAll(): void {
    this.#blocked.clear();
    this.#offline.clear();
  }

  get partitioned(): boolean {
    return this.#blocked.size > 0 || this.#offline.size > 0;
  }

  /** Breaks every connection of `node` (it crashed or left). */
  dropAll(node: string): void {
    for (const c of [...this.#open]) if (c.involves(node)) c.reset();
  }

  /**
   * Opens a connection from `a` to `b`: after a round trip, `onOpen` gets both ends; if the pair
   * cannot reach each other both ways, `onFail` runs after the dial timeout.
   */
  dial(a: string, b: string, profile: LinkProfile, onOpen: (ends: [FrameDuplex, FrameDuplex]) => void, onFail: () => void): void {
    const ok = this.reachable(a, b) && this.reachable(b, a);
    if (!ok) {
      this.#world.after(DIAL_TIMEOUT_MS, onFail);
      return;
    }
    this.#world.after(2 * profile.latencyMs, () => {
      if (!this.reachable(a, b) || !this.reachable(b, a)) {
        onFail();
        return;
      }
      const c = new SimConnection(this.#world, this, a, b, profile);
      this.#open.add(c);
      onOpen(c.ends);
    });
  }

  /** @internal */
  forget(c: SimConnection): void {
    this.#open.delete(c);
  }
}

class SimConnection {
  readonly ends: [SimEnd, SimEnd];
  readonly #a: string;
  readonly #b: string;
  #closed = false;

  constructor(world: World, network: Network, a: string, b: string, profile: LinkProfile) {
    this.#a = a;
    this.#b = b;
    const ea = new SimEnd(world, network, this, profile, a, b);
    const eb = new SimEnd(world, network, this, profile, b, a);
    ea.peer = eb;
    eb.peer = ea;
    this.ends = [ea, eb];
  }

  joins(x: string, y: string): boolean {
    return (this.#a === x && this.#b === y) || (this.#a === y && this.#b === x);
  }

  involves(x: string): boolean {
    return this.#a === x || this.#b === x;
  }

  /** Both ends see the connection close. */
  reset(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const end of this.ends) end.close();
  }

  get closed(): boolean {
    return this.#closed;
  }
}

class SimEnd extends DuplexHandlers implements FrameDuplex {
  peer: SimEnd | undefined;
  readonly #world: World;
  readonly #network: Network;
  readonly #connection: SimConnection;
  readonly #profile: LinkProfile;
  readonly #from: string;
  readonly #to: string;
  #closed = false;
  #inFlight = 0;
  #blocked = false;
  /** When the last frame sent arrives, and when the link is free to send the next one. */
  #lastArrival = 0;
  #stalled: Uint8Array[] = [];
  #busyUntil = 0;

  constructor(world: World, network: Network, connection: SimConnection, profile: LinkProfile, from: string, to: string) {
    super();
    this.#world = world;
    this.#network = network;
    this.#connection = connection;
    this.#profile = profile;
    this.#from = from;
    this.#to = to;
  }

  send(frame: Uint8Array): boolean {
    if (this.#closed) return false;
    const stats = this.#network.stats;
    stats.framesSent++;
    stats.bytesSent += frame.length;
    if (this.#stalled.length > 0 || !this.#network.reachable(this.#from, this.#to)) {
      // Held back, and counted against the buffer like frames on the wire.
      stats.framesStalled++;
      this.#stalled.push(frame.slice());
      this.#inFlight += frame.length;
      this.#network.maxInFlight = Math.max(this.#network.maxInFlight, this.#inFlight);
      if (this.#inFlight > HIGH_WATER_BYTES) this.#blocked = true;
      if (this.#stalled.length === 1) this.#retryStalled();
      return !this.#blocked;
    }
    return this.#transmit(frame.slice());
  }

  /** Retransmits what a one-way block held back, in order, once the way is open again. */
  #retryStalled(): void {
    this.#world.after(STALL_RETRY_MS, () => {
      if (this.#closed) return;
      if (!this.#network.reachable(this.#from, this.#to)) {
        this.#retryStalled();
        return;
      }
      const frames = this.#stalled;
      this.#stalled = [];
      for (const f of frames) {
        this.#inFlight -= f.length;
        this.#transmit(f);
      }
    });
  }

  #transmit(copy: Uint8Array): boolean {
    const world = this.#world;
    const random = world.random;
    const stats = this.#network.stats;
    const p = this.#profile;
    if (random.float() < p.loss) {
      stats.framesLost++;
      stats.resets++;
      world.after(p.latencyMs, () => this.#connection.reset());
      return false;
    }
    const start = Math.max(world.now, this.#busyUntil);
    const transmit = p.bandwidthBytesPerMs ? copy.length / p.bandwidthBytesPerMs : 0;
    this.#busyUntil = start + transmit;
    const jitter = p.jitter === 'exponential' ? -Math.log(1 - random.float()) * p.jitterMs : random.float() * p.jitterMs;
    let arrival = start + transmit + p.latencyMs + jitter;
    if (random.float() < p.reorder) stats.framesReordered++;
    else arrival = Math.max(arrival, this.#lastArrival); // in order, like a stream
    this.#lastArrival = Math.max(this.#lastArrival, arrival);
    const copies = random.float() < p.duplicate ? 2 : 1;
    if (copies === 2) stats.framesDuplicated++;
    this.#inFlight += copy.length;
    this.#network.maxInFlight = Math.max(this.#network.maxInFlight, this.#inFlight);
    world.after(arrival - world.now, () => {
      this.#inFlight -= copy.length;
      for (let i = 0; i < copies; i++) if (this.peer && !this.peer.#closed) this.peer.emitFrame(copy);
      if (this.#blocked && this.#inFlight <= HIGH_WATER_BYTES / 2 && !this.#closed) {
        this.#blocked = false;
        this.emitDrain();
      }
    });
    if (this.#inFlight > HIGH_WATER_BYTES) this.#blocked = true;
    return !this.#blocked;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#network.forget(this.#connection);
    this.#world.after(0, () => {
      this.emitClose();
    });
    this.#connection.reset();
  }
}
