/**
 * The mesh peer an app embeds: a libp2p host (TCP, Noise, Yamux, identify, ping, mDNS) whose
 * `/blazedb/sync/1` streams each carry one sync session. It holds no sync or routing logic of
 * its own: sessions are src/sync's, the choice of whom to dial and when to redial is
 * src/policy's ConnectionPolicy (the one the simulator tests). This file only wires libp2p
 * events to them.
 *
 *   const mesh = await MeshPeer.start(db, { relay: '/ip4/10.0.0.2/tcp/4001/p2p/12D3Koo...', mdns: true });
 *   mesh.on('state', (s) => console.log(s));   // connecting, catching-up, live, offline
 *   await mesh.stop();
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { decodeJwt } from 'jose';
import type { Libp2p } from 'libp2p';
import type { BlazeDB, SyncNetwork, SyncNetworkEvents, SyncState } from '../../src/db/index.ts';
import { ValidationError } from '../../src/errors.ts';
import type { Op } from '../../src/ops/op.ts';
import { cryptoRandom, realScheduler } from '../../src/platform/index.ts';
import { ConnectionPolicy, type PeerKind } from '../../src/policy/connection-policy.ts';
import type { SyncFilterSpec } from '../../src/sync/filter.ts';
import { databaseSource, PROTOCOL_ID, type Role, SyncSession } from '../../src/sync/index.ts';
import { ask } from './ask.ts';
import { meshAuthorizer, NO_TRUST_YET, type TokenTrust, tokenCredentials } from './auth.ts';
import { createHost, RELAY_LIMITS } from './host.ts';
import { askForIntroductions, serveIntroductions } from './introductions.ts';
import { streamDuplex } from './stream-duplex.ts';
import { looksLikeJwt, RELAY_INFO_PROTOCOL, verifyRules } from './tokens.ts';

export interface MeshOptions {
  /** Relay multiaddrs, each ending in /p2p/<peer id>: always dialed and kept. */
  relay?: string | readonly string[];
  /** LAN peers to dial directly by address (networks without mDNS), each ending in /p2p/<id>. */
  peers?: string | readonly string[];
  /** Find LAN peers by mDNS (true, or with a query interval; libp2p's default is 10 s). */
  mdns?: boolean | { intervalMs?: number };
  /** Addresses to listen on (default: every interface, a free TCP port). */
  listen?: readonly string[];
  /** Shared secret of the database's devices (see auth.ts). */
  token?: string;
  /**
   * 'rules': before syncing, make the store a partial replica of the most the relay's read rules
   * let this device's token read (asked of a relay, or the rules kept from an earlier session).
   * A filter spec is set by `db.enableSync` itself.
   */
  filter?: SyncFilterSpec | 'rules';
  /**
   * Reachable by WebRTC through the relays' circuit-relay signalling (peers that cannot reach
   * each other directly, e.g. behind NAT): a reservation on each relay, and a `/webrtc`
   * address other peers can dial. On a relay: serve circuit relay (reservations and signalling).
   */
  webrtc?: boolean;
  /** 'relay' acknowledges relay-durable and dials nobody. Default 'peer'. */
  role?: Role;
  /** Redial backoff (ConnectionPolicy defaults: 500 ms base, 30 s cap). */
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** Give up a dial after this long (default 10 s). */
  dialTimeoutMs?: number;
  /** Most open connections (default 64). */
  maxConnections?: number;
  /** With webrtc: how often to ask relays for the peers they can introduce (default 30 s). */
  introductionsIntervalMs?: number;
  /** How often to look for writes other processes made to the store (default 500 ms). */
  externalWritesPollMs?: number;
  /** Sync sessions' batching window and ACK interval (SyncSession defaults otherwise). */
  batchWindowMs?: number;
  ackIntervalMs?: number;
}

type MeshEvents = SyncNetworkEvents;
type Handlers = { [K in keyof MeshEvents]: Set<(event: MeshEvents[K]) => void> };

const DIAL_TIMEOUT_MS = 10_000;

export class MeshPeer implements SyncNetwork {
  readonly #db: BlazeDB;
  readonly #options: MeshOptions;
  readonly #libp2p: Libp2p;
  readonly #policy: ConnectionPolicy;
  readonly #relays: Map<string, Multiaddr>;
  /** Addresses of LAN peers given in the options (mDNS-found ones are in libp2p's peer store). */
  readonly #lanAddresses: Map<string, Multiaddr>;
  readonly #sessions = new Map<SyncSession, string>();
  readonly #streams = new Map<SyncSession, Stream>();
  /** Syncing sessions per peer: the policy redials only when the last one ends. */
  readonly #syncingWith = new Map<string, number>();
  readonly #handlers: Handlers = {
    'peer:found': new Set(),
    'peer:connected': new Set(),
    'peer:disconnected': new Set(),
    state: new Set(),
    conflict: new Set(),
    rejected: new Set(),
    error: new Set(),
  };
  #state: SyncState = 'offline';
  #stateQueued = false;
  #dialing = 0;
  #stopped = false;
  readonly #unsubscribe: (() => void)[] = [];
  /** The relay's token key (JWT mode): LAN peers' tokens are checked with it. */
  #trust: TokenTrust | undefined;
  readonly #tokenBindings = new Map<string, string>();

  private constructor(db: BlazeDB, options: MeshOptions, libp2p: Libp2p, relays: Map<string, Multiaddr>, lan: Map<string, Multiaddr>) {
    this.#db = db;
    this.#options = options;
    this.#libp2p = libp2p;
    this.#relays = relays;
    this.#lanAddresses = lan;
    this.#policy = new ConnectionPolicy({
      self: libp2p.peerId.toString(),
      scheduler: realScheduler,
      random: cryptoRandom,
      dial: (peer, kind) => void this.#dial(peer, kind),
      ...(options.backoffBaseMs !== undefined ? { backoffBaseMs: options.backoffBaseMs } : {}),
      ...(options.backoffCapMs !== undefined ? { backoffCapMs: options.backoffCapMs } : {}),
    });
  }

  /** Starts a libp2p host for `db` and begins syncing. */
  static async start(db: BlazeDB, options: MeshOptions = {}): Promise<MeshPeer> {
    const relays = parseAddresses('relay', options.relay);
    const lan = parseAddresses('peers', options.peers);
    const listen = [...(options.listen ?? ['/ip4/0.0.0.0/tcp/0'])];
    for (const address of listen) parseAddress('listen', address);
    const relayRole = options.role === 'relay';
    const webrtcPeer = options.webrtc === true && !relayRole;
    // A peer takes a reservation on its relays and listens for WebRTC set up through them.
    if (webrtcPeer) listen.push('/p2p-circuit', '/webrtc');
    const seed = db.deviceKeySeed();
    const trust = options.token !== undefined && looksLikeJwt(options.token) ? await loadTrust(db) : undefined;
    const libp2p = await createHost({
      seed,
      listen,
      webrtcClient: webrtcPeer,
      ...(relayRole && options.webrtc ? { relayServer: RELAY_LIMITS } : {}),
      ...(options.mdns ? { mdns: typeof options.mdns === 'object' ? options.mdns : {} } : {}),
      maxConnections: options.maxConnections ?? 64,
    });
    const peer = new MeshPeer(db, options, libp2p, relays, lan);
    peer.#trust = trust;
    try {
      if (options.filter === 'rules') await peer.#adoptRulesFilter();
      await peer.#begin();
    } catch (err) {
      await libp2p.stop();
      throw err;
    }
    return peer;
  }

  /** Peer ids of the configured relays. */
  get relayPeers(): ReadonlySet<string> {
    return new Set(this.#relays.keys());
  }

  /** This node's libp2p peer id. */
  get peerId(): string {
    return this.#libp2p.peerId.toString();
  }

  /** The addresses peers can dial, each ending in /p2p/<peer id>. */
  get addresses(): string[] {
    return this.#libp2p.getMultiaddrs().map((a) => a.toString());
  }

  get state(): SyncState {
    return this.#state;
  }

  /** Open sync sessions and the peer each one is with. */
  sessions(): { peer: string; session: SyncSession }[] {
    return [...this.#sessions].map(([session, peer]) => ({ peer, session }));
  }

  /** The libp2p host, for transports' details (tests read the connection's transport). */
  get libp2p(): Libp2p {
    return this.#libp2p;
  }

  on<K extends keyof MeshEvents>(event: K, handler: (value: MeshEvents[K]) => void): () => void {
    const set = this.#handlers[event] as Set<(value: MeshEvents[K]) => void>;
    set.add(handler);
    return () => set.delete(handler);
  }

  /** Ends every session with a reason, stops dialing and the libp2p host. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#policy.stop();
    for (const off of this.#unsubscribe) off();
    const streams = [...this.#streams.values()];
    for (const session of [...this.#sessions.keys()]) session.close('local-close', 'peer stopping');
    // Let the CLOSE frames go out (peers then see the reason), but not for long.
    await Promise.allSettled(streams.map((stream) => stream.close({ signal: AbortSignal.timeout(500) })));
    await this.#libp2p.stop();
    this.#setState('offline');
  }

  async #begin(): Promise<void> {
    const libp2p = this.#libp2p;
    await libp2p.handle(PROTOCOL_ID, (stream, connection) => this.#accept(stream, connection), {
      // One session per peer pair is the rule; a few more cover a redial racing a slow close.
      maxInboundStreams: 4,
      maxOutboundStreams: 4,
    });
    if (this.#role === 'relay' && this.#options.webrtc) await serveIntroductions(libp2p, (asker) => this.#introductionsFor(asker));
    const onDiscovery = (event: CustomEvent<{ id: PeerId }>) => {
      const peer = event.detail.id.toString();
      if (this.#relays.has(peer)) return;
      this.#emit('peer:found', { peer });
      if (this.#role === 'peer') this.#policy.discovered(peer, 'lan');
    };
    libp2p.addEventListener('peer:discovery', onDiscovery);
    this.#unsubscribe.push(() => libp2p.removeEventListener('peer:discovery', onDiscovery));
    this.#unsubscribe.push(this.#db.onClose(() => this.stop().catch((err: Error) => this.#emit('error', err))));
    // Local writes can make a live replica catch-up-worthy again: re-evaluate the state. Ops
    // from peers may leave records with concurrent values: say so.
    // Skipped dots and voids move the vector without ops: caught up may follow from them.
    this.#unsubscribe.push(this.#db.engine.onVersion(() => this.#updateState()));
    // A relay's verdict removed writes of ours: the app hears which.
    this.#unsubscribe.push(
      this.#db.engine.onVoid(({ removed }) => {
        for (const op of removed) {
          if (op.node !== this.#db.nodeId) continue;
          const fields = op.fields.map((f) => f.field);
          this.#emit('rejected', { collection: op.collection, id: op.record, seq: op.seq, kind: op.kind, fields });
        }
      }),
    );
    this.#unsubscribe.push(
      this.#db.engine.onOps((ops, source) => {
        this.#updateState();
        if (source instanceof SyncSession && this.#handlers.conflict.size > 0) this.#reportConflicts(ops);
      }),
    );
    if (this.#role === 'peer') for (const relay of this.#relays.keys()) this.#policy.discovered(relay, 'relay');
    for (const peer of this.#lanAddresses.keys()) this.#policy.discovered(peer, 'static');
    // A `blaze insert` on the same store while this peer runs: its ops reach the sessions.
    const poll = setInterval(() => {
      try {
        this.#db.engine.pickUpExternalWrites();
      } catch (err) {
        this.#emit('error', err as Error);
      }
    }, this.#options.externalWritesPollMs ?? 500);
    poll.unref();
    this.#unsubscribe.push(() => clearInterval(poll));
    this.#updateState();
  }

  get #role(): Role {
    return this.#options.role ?? 'peer';
  }

  async #dial(peer: string, kind: PeerKind): Promise<void> {
    this.#dialing++;
    this.#updateState();
    try {
      const target = this.#relays.get(peer) ?? this.#lanAddresses.get(peer) ?? peerIdFromString(peer);
      const stream = await this.#libp2p.dialProtocol(target, PROTOCOL_ID, {
        signal: AbortSignal.timeout(this.#options.dialTimeoutMs ?? DIAL_TIMEOUT_MS),
      });
      if (this.#stopped) {
        stream.abort(new Error('peer stopping'));
        return;
      }
      // Noise checked that the remote key is the one the peer id (or the relay's /p2p/) names.
      this.#run(stream, peerIdFromString(peer), peer, kind);
    } catch (err) {
      if (!this.#stopped) {
        this.#emit('error', new MeshDialError(peer, err as Error));
        this.#policy.disconnected(peer);
      }
    } finally {
      this.#dialing--;
      this.#updateState();
    }
  }

  #accept(stream: Stream, connection: Connection): void {
    if (this.#stopped) {
      stream.abort(new Error('peer stopping'));
      return;
    }
    this.#run(stream, connection.remotePeer, connection.remotePeer.toString(), 'inbound');
  }

  /** One sync session over `stream`; the policy hears when it syncs and when it ends. */
  #run(stream: Stream, remote: PeerId, peer: string, kind: PeerKind | 'inbound'): void {
    const db = this.#db;
    const session = new SyncSession({
      source: databaseSource(db),
      duplex: streamDuplex(stream),
      role: this.#role,
      credentials: tokenCredentials(this.#options.token, db.dbId, db.nodeId),
      authorize: meshAuthorizer(remote, {
        token: this.#options.token,
        relays: new Set(this.#relays.keys()),
        trust: () => this.#trust,
        bindings: this.#tokenBindings,
      }),
      // Anyone can open a connection to us: they see our HELLO only once theirs passed.
      helloAfterPeer: kind === 'inbound',
      scheduler: realScheduler,
      ...(this.#options.batchWindowMs !== undefined ? { batchWindowMs: this.#options.batchWindowMs } : {}),
      ...(this.#options.ackIntervalMs !== undefined ? { ackIntervalMs: this.#options.ackIntervalMs } : {}),
    });
    this.#sessions.set(session, peer);
    this.#streams.set(session, stream);
    let synced = false;
    session.onStateChange((state) => {
      if (state !== 'syncing') return;
      synced = true;
      this.#syncingWith.set(peer, (this.#syncingWith.get(peer) ?? 0) + 1);
      this.#policy.connected(peer);
      this.#emit('peer:connected', { peer, kind });
      if (kind === 'relay' && this.#options.webrtc) void this.#askRelay(peer);
      if (kind === 'relay' && this.#options.token !== undefined && looksLikeJwt(this.#options.token)) void this.#learnTrust(peer);
      this.#updateState();
    });
    session.onAck(() => this.#updateState());
    session.onClose((reason) => {
      this.#sessions.delete(session);
      this.#streams.delete(session);
      const left = (this.#syncingWith.get(peer) ?? 0) - (synced ? 1 : 0);
      if (left > 0) this.#syncingWith.set(peer, left);
      else this.#syncingWith.delete(peer);
      if (this.#stopped) return;
      this.#emit('peer:disconnected', { peer, reason: `${reason.code}: ${reason.message}` });
      if (reason.code === 'unauthorized' && reason.message.includes(NO_TRUST_YET)) {
        // One side has not met its relay yet: dialed again (with backoff) until both have.
        this.#policy.disconnected(peer);
      } else if (REFUSALS.has(reason.code)) {
        // Refused (either way): asking again gives the same answer.
        this.#policy.forget(peer);
        this.#emit('error', new MeshRefusedError(peer, `${reason.code}: ${reason.message}`));
      } else if (left <= 0) {
        this.#policy.disconnected(peer);
      }
      this.#updateState();
    });
    session.start();
  }

  /**
   * Relay side, for a peer in sync with it (undefined for anyone else): the other peers in sync
   * with it that hold a circuit reservation here, i.e. are reachable by WebRTC through it.
   */
  #introductionsFor(asker: string): string[] | undefined {
    const syncing = new Set([...this.#sessions].filter(([s]) => s.state === 'syncing').map(([, peer]) => peer));
    if (!syncing.has(asker)) return undefined;
    const server = (this.#libp2p.services as { circuitRelay?: { reservations: { has(peer: PeerId): boolean } } }).circuitRelay;
    return [...syncing].filter((peer) => peer !== asker && server?.reservations.has(peerIdFromString(peer)));
  }

  /** Peer side: asks a relay whom it can reach by WebRTC, and again every 30 s while in sync. */
  async #askRelay(relay: string): Promise<void> {
    while (!this.#stopped && [...this.#sessions].some(([s, p]) => p === relay && s.state === 'syncing')) {
      try {
        const address = this.#relays.get(relay);
        for (const peer of address
          ? await askForIntroductions(this.#libp2p, address, this.#options.dialTimeoutMs ?? DIAL_TIMEOUT_MS)
          : []) {
          if (peer === this.peerId || this.#relays.has(peer) || this.#lanAddresses.has(peer)) continue;
          // Through the relay as this node knows it: its signalling sets up a direct WebRTC link.
          this.#lanAddresses.set(peer, parseAddress('introductions', `${address}/p2p-circuit/webrtc/p2p/${peer}`));
          this.#emit('peer:found', { peer });
          this.#policy.discovered(peer, 'lan');
        }
      } catch (err) {
        this.#emit('error', err as Error);
      }
      await new Promise((resolve) => setTimeout(resolve, this.#options.introductionsIntervalMs ?? 30_000).unref());
    }
  }

  /**
   * filter: 'rules'. The relay's signed rules (asked of each relay in turn, else those kept from
   * an earlier session) turned into the filter this token may hold, set before any session.
   */
  async #adoptRulesFilter(): Promise<void> {
    const token = this.#options.token;
    if (token === undefined || !looksLikeJwt(token)) throw new MeshRulesError('filter: rules needs a device token (JWT) of the relay');
    for (const [relay, address] of this.#relays) {
      try {
        await this.#askTrust(address);
        break;
      } catch (err) {
        this.#emit('error', new MeshDialError(relay, err as Error));
      }
    }
    const trust = this.#trust;
    if (!trust) throw new MeshRulesError('filter: rules: no relay answered, and none was asked before');
    if (!trust.rules) throw new MeshRulesError('filter: rules: the relay has no rules (every device may read everything: give no filter)');
    const filter = trust.rules.rules.allowedFilter(decodeJwt(token));
    if (!filter) throw new MeshRulesError("filter: rules: the relay's rules let this token read nothing");
    await this.#db.setSyncFilter(filter.spec);
  }

  /** Asks a relay for its token key (JWT mode) and keeps it, in the store too (LAN-only restarts). */
  async #learnTrust(relay: string): Promise<void> {
    try {
      const address = this.#relays.get(relay);
      if (address) await this.#askTrust(address);
    } catch (err) {
      if (!this.#stopped) this.#emit('error', err as Error);
    }
  }

  /** The relay's token key and signed rules, asked of it, checked, kept here and in the store. */
  async #askTrust(address: Multiaddr): Promise<void> {
    const trust = await parseTrust(await ask(this.#libp2p, address, RELAY_INFO_PROTOCOL, this.#options.dialTimeoutMs ?? DIAL_TIMEOUT_MS));
    this.#trust = trust;
    saveTrust(this.#db, trust);
  }

  #reportConflicts(ops: readonly Op[]): void {
    const seen = new Set<string>();
    for (const op of ops) {
      const key = `${op.collection.length}:${op.collection}:${op.record}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const conflicts = this.#db.engine.replica.conflicts(op.collection, op.record);
      if (conflicts.length > 0) this.#emit('conflict', { collection: op.collection, id: op.record, fields: conflicts.map((c) => c.field) });
    }
  }

  /** Re-judges the sync state, once per burst of commits and ACKs. */
  #updateState(): void {
    if (this.#stateQueued) return;
    this.#stateQueued = true;
    queueMicrotask(() => {
      this.#stateQueued = false;
      this.#judgeState();
    });
  }

  #judgeState(): void {
    if (this.#stopped) return;
    const sessions = [...this.#sessions.keys()];
    const syncing = sessions.filter((s) => s.state === 'syncing');
    let state: SyncState;
    if (syncing.length === 0) state = this.#dialing > 0 || sessions.length > 0 ? 'connecting' : 'offline';
    else if (this.#dialing > 0 || syncing.length < sessions.length) state = 'catching-up';
    else state = syncing.every((s) => caughtUp(s, this.#db)) ? 'live' : 'catching-up';
    this.#setState(state);
  }

  #setState(state: SyncState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#emit('state', state);
  }

  #emit<K extends keyof MeshEvents>(event: K, value: MeshEvents[K]): void {
    for (const handler of this.#handlers[event] as Set<(value: MeshEvents[K]) => void>) {
      try {
        handler(value);
      } catch (err) {
        if (event !== 'error') this.#emit('error', err as Error);
      }
    }
  }
}

/** Session ends that a redial would only repeat. */
const REFUSALS = new Set(['unauthorized', 'wrong-database', 'version-unsupported']);

/** A peer refused this node, or this node refused it: not redialed. */
export class MeshRefusedError extends Error {
  override name = 'MeshRefusedError';
  readonly peer: string;
  constructor(peer: string, reason: string) {
    super(`${peer} refused: ${reason}`);
    this.peer = peer;
  }
}

/** `filter: 'rules'` could not be derived: no token, no rules known, or rules that allow nothing. */
export class MeshRulesError extends Error {
  override name = 'MeshRulesError';
}

/** A dial to a peer failed (unreachable, refused, timed out); the policy redials later. */
export class MeshDialError extends Error {
  override name = 'MeshDialError';
  readonly peer: string;
  constructor(peer: string, cause: Error) {
    super(`cannot reach ${peer}: ${cause.message}`, { cause });
    this.peer = peer;
  }
}

/**
 * Neither side lacks what the other is known to hold: this side has everything the peer held
 * at its HELLO and at its last ACK, and the peer acknowledged everything this side holds.
 */
function caughtUp(session: SyncSession, db: BlazeDB): boolean {
  const ack = session.peerAck?.version;
  if (!ack) return false;
  const ours = db.engine.replica.version;
  for (const theirs of [session.peerHelloVersion ?? new Map(), ack]) {
    for (const [node, seq] of theirs) if (ours.get(node) < seq) return false;
  }
  for (const [node, seq] of ours.toMap()) if ((ack.get(node) ?? 0) < seq) return false;
  return true;
}

function parseAddress(option: string, text: string): Multiaddr {
  try {
    return multiaddr(text);
  } catch (err) {
    throw new ValidationError(option, `not a multiaddr: ${text} (${(err as Error).message})`);
  }
}

/** Multiaddrs ending in /p2p/<peer id>, by peer id; ValidationError naming `option` otherwise. */
function parseAddresses(option: string, given: string | readonly string[] | undefined): Map<string, Multiaddr> {
  const out = new Map<string, Multiaddr>();
  for (const text of given === undefined ? [] : typeof given === 'string' ? [given] : given) {
    const address = parseAddress(option, text);
    const peer = address.getComponents().findLast((c) => c.name === 'p2p')?.value;
    if (!peer) throw new ValidationError(option, `an address ends in /p2p/<peer id>: ${text}`);
    try {
      peerIdFromString(peer);
    } catch {
      throw new ValidationError(option, `not a peer id: ${peer} (in ${text})`);
    }
    out.set(peer, address);
  }
  return out;
}

const META_TOKEN_TRUST = 'mesh_token_trust';

async function loadTrust(db: BlazeDB): Promise<TokenTrust | undefined> {
  const bytes = db.engine.storage.getMeta(META_TOKEN_TRUST);
  if (!bytes) return undefined;
  try {
    return await parseTrust(JSON.parse(new TextDecoder().decode(bytes)));
  } catch {
    return undefined; // asked of the relay again
  }
}

function saveTrust(db: BlazeDB, trust: TokenTrust): void {
  const stored = { issuer: trust.issuer, tokenKey: trust.tokenKey, ...(trust.rules ? { rules: trust.rules.signed } : {}) };
  db.engine.write(() => db.engine.storage.setMeta(META_TOKEN_TRUST, new TextEncoder().encode(JSON.stringify(stored))));
}

/** A relay's answer on RELAY_INFO_PROTOCOL, checked: its token key, and its rules if it signed any. */
async function parseTrust(answer: unknown): Promise<TokenTrust> {
  const a = answer as { issuer?: unknown; tokenKey?: { kty?: unknown; crv?: unknown; x?: unknown }; rules?: unknown };
  const key = a?.tokenKey;
  if (typeof a?.issuer !== 'string' || key?.kty !== 'OKP' || key.crv !== 'Ed25519' || typeof key.x !== 'string')
    throw new Error('the relay sent no usable token key');
  const trust = { issuer: a.issuer, tokenKey: { kty: 'OKP', crv: 'Ed25519', x: key.x } };
  if (a.rules === undefined) return trust;
  if (typeof a.rules !== 'string') throw new Error('the relay sent rules that are not signed');
  return { ...trust, rules: { signed: a.rules, rules: await verifyRules(a.rules, trust) } };
}
