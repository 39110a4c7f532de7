/**
 * Which peers a node keeps sync sessions with, and when it redials. Transport-agnostic: the
 * libp2p node and the simulator both drive it with discovery and connection events and give it
 * a `dial` to call, so the simulator tests the policy the real node runs.
 *
 * - LAN peers (found by mDNS) are dialed directly, by one side only (the smaller node id), so two
 *   peers that find each other at once open one session, not two.
 * - Relays (configured) are always dialed and kept: the relay is the durable hub, LAN peers
 *   the fast path; with the relay down LAN peers keep syncing, with no LAN peer all goes through
 *   the relay. Duplicate paths cost nothing: version vectors keep an op from crossing a link
 *   twice.
 * - A lost connection is redialed with exponential backoff and full jitter (delay uniform in
 *   [0, min(cap, base * 2^attempt)]), so peers do not stampede a relay that restarts. A peer
 *   that mDNS no longer sees is not redialed.
 */
import type { Cancel, Random, Scheduler } from '../runtime.ts';

/** 'static': a peer the app named by address (no mDNS); dialed always, like a relay. */
export type PeerKind = 'lan' | 'relay' | 'static';

export interface ConnectionPolicyInit {
  /** This node's id (compared with LAN peers' ids to pick who dials). */
  self: string;
  scheduler: Scheduler;
  random: Random;
  /** Opens a session to `peer`; the owner reports the outcome with `connected` / `disconnected`. */
  dial(peer: string, kind: PeerKind): void;
  /** First redial delay bound (default 500 ms). */
  backoffBaseMs?: number;
  /** Largest redial delay bound (default 30 s). */
  backoffCapMs?: number;
}

interface PeerState {
  kind: PeerKind;
  /** Dialing or connected: no new dial until `disconnected`. */
  busy: boolean;
  connected: boolean;
  attempt: number;
  retry: Cancel | undefined;
}

export const DEFAULT_BACKOFF_BASE_MS = 500;
export const DEFAULT_BACKOFF_CAP_MS = 30_000;

export class ConnectionPolicy {
  readonly #init: ConnectionPolicyInit;
  readonly #peers = new Map<string, PeerState>();
  readonly #baseMs: number;
  readonly #capMs: number;
  #stopped = false;

  constructor(init: ConnectionPolicyInit) {
    this.#init = init;
    this.#baseMs = init.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS;
    this.#capMs = init.backoffCapMs ?? DEFAULT_BACKOFF_CAP_MS;
  }

  /** The largest delay before a redial: part of the simulator's convergence bound. */
  get backoffCapMs(): number {
    return this.#capMs;
  }

  /** A LAN peer appeared (mDNS), or a relay is configured. */
  discovered(peer: string, kind: PeerKind): void {
    if (this.#stopped || peer === this.#init.self) return;
    let state = this.#peers.get(peer);
    if (!state) {
      state = { kind, busy: false, connected: false, attempt: 0, retry: undefined };
      this.#peers.set(peer, state);
    }
    if (!state.busy && !state.retry) this.#dial(peer, state);
  }

  /** mDNS no longer sees the peer: no more redials (an open session ends on its own). */
  lost(peer: string): void {
    if (this.#peers.get(peer)?.kind === 'lan') this.forget(peer);
  }

  /** A session with `peer` reached sync (dialed by either side). */
  connected(peer: string): void {
    const state = this.#peers.get(peer);
    if (!state) return;
    state.busy = true;
    state.connected = true;
    state.attempt = 0;
  }

  /** A dial failed or a session with `peer` ended: redial later if the peer is still wanted. */
  disconnected(peer: string): void {
    const state = this.#peers.get(peer);
    if (!state) return;
    state.busy = false;
    state.connected = false;
    if (this.#stopped || !this.#dials(peer, state.kind) || state.retry) return;
    const bound = Math.min(this.#capMs, this.#baseMs * 2 ** state.attempt);
    state.attempt = Math.min(state.attempt + 1, 30);
    state.retry = this.#init.scheduler.after(this.#init.random.float() * bound, () => {
      state.retry = undefined;
      if (this.#peers.get(peer) === state && !state.busy) this.#dial(peer, state);
    });
  }

  /** The peer refused us (or is not one we may sync with): forget it, no redials. */
  forget(peer: string): void {
    this.#peers.get(peer)?.retry?.();
    this.#peers.delete(peer);
  }

  /** Peers with a live session. */
  connectedPeers(): string[] {
    return [...this.#peers].filter(([, s]) => s.connected).map(([id]) => id);
  }

  /** Stops dialing and cancels pending redials. */
  stop(): void {
    this.#stopped = true;
    for (const state of this.#peers.values()) state.retry?.();
  }

  /** LAN peers are dialed by the smaller id; relays and static peers always by this side. */
  #dials(peer: string, kind: PeerKind): boolean {
    return kind !== 'lan' || this.#init.self < peer;
  }

  #dial(peer: string, state: PeerState): void {
    if (!this.#dials(peer, state.kind)) return;
    state.busy = true;
    this.#init.dial(peer, state.kind);
  }
}
