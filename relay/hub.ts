/**
 * The relay's sync hub: one libp2p host (its identity from the data directory) serving many
 * databases, one BlazeDB store each, opened when a device first syncs one. Every stream on
 * `/blazedb/sync/1` goes through the same checks before a SyncSession (src/sync, the code
 * every peer runs) is created for it:
 *
 *   peer's HELLO (first frame)  ->  node id is the connection key's   ->  database served
 *     ->  device token (JWT, node/mesh/tokens.ts) for that database, bound to that peer id
 *     ->  read rules (if configured): the peer's filter within what its claims may read
 *     ->  SyncSession(role relay) on that database's store, whose ops the write rules (if
 *         configured) judge by the claims of their author: the peer itself, or the device
 *         whose signed runs it forwards, whose own token is checked (see #judgedSource)
 *
 * A refusal is a CLOSE with a typed reason and nothing else: no HELLO of ours, no ops.
 *
 * Relays of one deployment (config `relays`) sync every database with each other over the same
 * protocol, role relay on both sides: a relay is admitted by its key (its peer id is
 * configured), not by a token. Each side dials for the databases it holds, with the backoff of
 * the ConnectionPolicy every peer runs.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { publicKeyFromRaw } from '@libp2p/crypto/keys';
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface';
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { serveAnswers } from '../node/mesh/ask.ts';
import { nodeIdOfPeer } from '../node/mesh/auth.ts';
import { createHost, RELAY_LIMITS } from '../node/mesh/host.ts';
import { serveIntroductions } from '../node/mesh/introductions.ts';
import { streamDuplex } from '../node/mesh/stream-duplex.ts';
import { type DeviceClaims, RELAY_INFO_PROTOCOL, signRules, TokenError, verifyDeviceToken } from '../node/mesh/tokens.ts';
import type { Doc } from '../src/db/engine.ts';
import { BlazeDB } from '../src/db/index.ts';
import { validateDbId } from '../src/db/open.ts';
import type { Author } from '../src/identity/run-signature.ts';
import type { Op } from '../src/ops/op.ts';
import { cryptoRandom, realScheduler, systemClock } from '../src/platform/index.ts';
import { ConnectionPolicy } from '../src/policy/connection-policy.ts';
import { judgeRead, type Rules } from '../src/rules/index.ts';
import { SHARE_FRAMES_FROM_SESSIONS } from '../src/sync/constants.ts';
import {
  type CloseCode,
  databaseSource,
  type FrameDuplex,
  type Hello,
  NoHelloError,
  PROTOCOL_ID,
  readHello,
  refuse,
  type SessionStats,
  SyncSession,
  type SyncSource,
} from '../src/sync/index.ts';
import { TokenBindings } from './bindings.ts';
import type { RelayConfig } from './config.ts';
import { databasesDir, type RelayKeys } from './data-dir.ts';
import type { Logger } from './log.ts';
import { RelayMetrics } from './metrics.ts';
import { PeerBuckets } from './rate-limit.ts';

/** A peer may send this many seconds' worth of its op rate at once. */
const RATE_BURST_SECONDS = 5;
/** A connection must send its HELLO within this. */
const HELLO_TIMEOUT_MS = 10_000;
/** Sync streams a peer may open per second on average (bursts of 30): more is a flood. */
const STREAMS_PER_SECOND = 1;
const STREAM_BURST_SECONDS = 30;
/** How long skipped dots for a partial peer may wait, merged (SyncSessionInit.skipDelayMs). */
const SKIP_DELAY_MS = 2_000;
/** A peer cut off for abuse (floods, frames that are not ours) may not connect for this long. */
const BAN_MS = 60_000;
/** Session endings that only a misbehaving peer causes: its connection is cut off too. */
const ABUSE: ReadonlySet<CloseCode> = new Set(['malformed-frame', 'frame-too-large', 'protocol']);

interface HubSession {
  readonly dbId: string;
  readonly peer: string;
  /** The device token's claims; undefined for another relay of the deployment. */
  readonly claims: DeviceClaims | undefined;
  readonly stream: Stream;
  /** What the metrics have counted of this session's stats so far. */
  counted: SessionStats;
}

type Verdict = { ok: true; claims: DeviceClaims | undefined } | { ok: false; code: CloseCode; message: string; reason?: string };

export class RelayHub {
  readonly metrics: RelayMetrics;
  readonly #config: RelayConfig;
  readonly #keys: RelayKeys;
  readonly #log: Logger;
  readonly #libp2p: Libp2p;
  readonly #bindings: TokenBindings;
  readonly #databases = new Map<string, Promise<BlazeDB>>();
  readonly #opened = new Map<string, BlazeDB>();
  readonly #sessions = new Map<SyncSession, HubSession>();
  /** Open sessions per database (see SHARE_FRAMES_FROM_SESSIONS). */
  readonly #sessionsPerDb = new Map<string, number>();
  /** Other relays of the deployment, by peer id. */
  readonly #peerRelays: Map<string, Multiaddr>;
  /** Redials relay links, one per (database, relay): keys are `${dbId} ${peerId}`. */
  readonly #relayLinks: ConnectionPolicy;
  readonly #opBuckets: PeerBuckets;
  readonly #streamBuckets = new PeerBuckets(STREAMS_PER_SECOND, STREAM_BURST_SECONDS);
  /** Peers cut off for abuse, until when (ms since the epoch). */
  readonly #banned = new Map<string, number>();
  #stopping = false;

  private constructor(config: RelayConfig, keys: RelayKeys, log: Logger, libp2p: Libp2p) {
    this.#config = config;
    this.#keys = keys;
    this.#log = log;
    this.#libp2p = libp2p;
    this.#bindings = new TokenBindings(keys.dir);
    this.#opBuckets = new PeerBuckets(config.maxOpsPerSecondPerPeer, RATE_BURST_SECONDS);
    this.#peerRelays = new Map(
      config.relays.map((text) => {
        const address = multiaddr(text);
        return [address.getComponents().findLast((c) => c.name === 'p2p')?.value as string, address];
      }),
    );
    this.#relayLinks = new ConnectionPolicy({
      self: libp2p.peerId.toString(),
      scheduler: realScheduler,
      random: cryptoRandom,
      dial: (link) => void this.#dialRelay(link),
    });
    this.metrics = new RelayMetrics({
      sessionCounts: () => {
        const counts = new Map<string, number>();
        for (const s of this.#sessions.values()) counts.set(s.dbId, (counts.get(s.dbId) ?? 0) + 1);
        return counts;
      },
      databases: () => this.#opened,
      harvest: () => {
        for (const [session, entry] of this.#sessions) this.#count(session, entry);
      },
    });
  }

  static async start(config: RelayConfig, keys: RelayKeys, log: Logger): Promise<RelayHub> {
    let hub: RelayHub | undefined;
    const libp2p = await createHost({
      seed: keys.identitySeed,
      listen: config.listen,
      ...(config.circuitRelay ? { relayServer: { ...RELAY_LIMITS, maxReservations: config.circuitRelay.maxReservations } } : {}),
      maxConnections: config.maxConnections,
      denyPeer: (peer) => (hub ? hub.#isBanned(peer) : false),
      // Abuse is judged per peer here (streams, frames, ops); many honest devices share an IP.
      inbound: { perHostPerSecond: 200, pending: 128 },
    });
    hub = new RelayHub(config, keys, log, libp2p);
    try {
      await hub.#begin();
    } catch (err) {
      await libp2p.stop();
      hub.#bindings.close();
      throw err;
    }
    return hub;
  }

  get peerId(): string {
    return this.#libp2p.peerId.toString();
  }

  /** Dialable addresses, each ending in /p2p/<peer id>. */
  get addresses(): string[] {
    return this.#libp2p.getMultiaddrs().map((a) => a.toString());
  }

  /** The store of a database this relay serves (opened, and created, on first use). */
  database(dbId: string): Promise<BlazeDB> {
    let db = this.#databases.get(dbId);
    if (!db) {
      db = BlazeDB.open({
        path: join(databasesDir(this.#keys.dir), dbId),
        dbId,
        identitySeed: this.#keys.identitySeed,
        durability: this.#config.durability,
        gc: {
          authority: this.#config.gcAuthority,
          evictAfterMs: this.#config.evictAfterSeconds * 1000,
          intervalMs: this.#config.gcIntervalSeconds * 1000,
        },
      }).then((opened) => {
        this.#opened.set(dbId, opened);
        // Many partial peers catching up read the same docs: keep more of them (about 13 MB).
        opened.engine.docCacheSize = 65_536;
        // Every session reads every new op: keep the newest decoded (a few MB).
        opened.engine.opCacheSize = 16_384;
        opened.startBackgroundGc();
        opened.engine.onOps((ops, source) => {
          if (source instanceof SyncSession) this.#meter(source, ops.length);
        });
        // Refused writes count against their sender's op rate too.
        opened.engine.onVoid(({ ranges, source }) => {
          if (source instanceof SyncSession)
            this.#meter(
              source,
              ranges.reduce((n, r) => n + r.to - r.from + 1, 0),
            );
        });
        for (const peer of this.#peerRelays.keys()) this.#relayLinks.discovered(`${dbId} ${peer}`, 'relay');
        this.#log.info({ db: dbId, ops: opened.stats().opCount }, 'database opened');
        return opened;
      });
      db.catch(() => this.#databases.delete(dbId));
      this.#databases.set(dbId, db);
    }
    return db;
  }

  /** A database this relay holds and serves, opened; undefined for any other (none is created). */
  async heldDatabase(dbId: string): Promise<BlazeDB | undefined> {
    if (!isDbId(dbId) || (this.#config.databases && !this.#config.databases.includes(dbId))) return undefined;
    if (!this.#databases.has(dbId) && !existsSync(join(databasesDir(this.#keys.dir), dbId))) return undefined;
    return this.database(dbId);
  }

  /** Checks a token for the HTTP query endpoint (TokenUse 'query'); throws TokenError. */
  verifyQueryToken(token: string, dbId: string): Promise<DeviceClaims> {
    return verifyDeviceToken(token, { publicKey: this.#keys.tokenKey.publicKey, issuer: this.#keys.tokenKey.issuer, dbId, use: 'query' });
  }

  /** The read rules every session and query is held to (null: none, everything readable). */
  get readRules(): Rules | null {
    return this.#config.rules;
  }

  /** Databases opened since the relay started. */
  databaseIds(): string[] {
    return [...this.#opened.keys()];
  }

  /** Open sync sessions. */
  sessions(): { dbId: string; peer: string; sub: string; session: SyncSession }[] {
    return [...this.#sessions].map(([session, s]) => ({ dbId: s.dbId, peer: s.peer, sub: s.claims?.sub ?? 'relay', session }));
  }

  /**
   * Graceful shutdown: stop accepting, close every session with a reason (its CLOSE goes out),
   * store what is pending and close the stores, stop the host.
   */
  async stop(reason = 'relay shutting down'): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#relayLinks.stop();
    await this.#libp2p.unhandle(PROTOCOL_ID);
    const streams = [...this.#sessions.values()].map((s) => s.stream);
    for (const session of [...this.#sessions.keys()]) session.close('local-close', reason);
    await Promise.allSettled(streams.map((stream) => stream.close({ signal: AbortSignal.timeout(1_000) })));
    const databases = await Promise.allSettled(this.#databases.values());
    for (const db of databases) if (db.status === 'fulfilled') await db.value.close();
    await this.#libp2p.stop();
    this.#bindings.close();
    this.#log.info({ reason }, 'stopped');
  }

  async #begin(): Promise<void> {
    // Every store already here: its GC keeps running and its metrics show before anyone syncs.
    for (const entry of readdirSync(databasesDir(this.#keys.dir), { withFileTypes: true }))
      if (entry.isDirectory() && isDbId(entry.name)) await this.database(entry.name);
    await this.#libp2p.handle(PROTOCOL_ID, (stream, connection) => void this.#accept(stream, connection), {
      maxInboundStreams: 4,
      maxOutboundStreams: 4,
    });
    // The token key is public: LAN peers fetch it to check each other's tokens offline, and the
    // rules signed with it to enforce them when they serve each other.
    const rules = this.#config.rules ? await signRules(this.#config.rules, this.#keys.tokenKey) : undefined;
    await serveAnswers(this.#libp2p, RELAY_INFO_PROTOCOL, () => ({
      issuer: this.#keys.tokenKey.issuer,
      tokenKey: this.#keys.tokenKey.publicKey,
      ...(rules ? { rules } : {}),
    }));
    if (this.#config.circuitRelay) await serveIntroductions(this.#libp2p, (asker) => this.#introductionsFor(asker));
  }

  async #accept(stream: Stream, connection: Connection): Promise<void> {
    const remote = connection.remotePeer;
    const peer = remote.toString();
    if (this.#stopping) {
      stream.abort(new Error('relay shutting down'));
      return;
    }
    if (this.#isBanned(peer) || !this.#takeStream(peer)) {
      stream.abort(new Error('too many streams'));
      this.#cutOff(peer, 'stream-flood', `more than ${STREAMS_PER_SECOND} sync streams per second`);
      return;
    }
    const duplex = streamDuplex(stream, {
      maxFrameBytes: this.#config.maxFrameBytes,
      onFramingError: (err) => this.#cutOff(peer, 'frame-too-large', err.message),
    });
    const first = readHello(duplex, this.#config.maxFrameBytes);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new NoHelloError(`no HELLO within ${HELLO_TIMEOUT_MS} ms`)), HELLO_TIMEOUT_MS);
    });
    let hello: Hello;
    try {
      hello = await Promise.race([first.hello, deadline]);
    } catch (err) {
      this.#refuse(duplex, peer, { ok: false, code: 'protocol', message: (err as Error).message });
      return;
    } finally {
      clearTimeout(timer);
    }
    const verdict = await this.#judge(hello, remote);
    if (!verdict.ok) {
      this.#refuse(duplex, peer, verdict, hello.dbId);
      return;
    }
    let db: BlazeDB;
    try {
      db = await this.database(hello.dbId);
    } catch (err) {
      this.#log.error({ db: hello.dbId, err }, 'cannot open the database');
      this.#refuse(duplex, peer, { ok: false, code: 'apply-failed', message: 'the relay cannot open this database' }, hello.dbId);
      return;
    }
    if (this.#stopping) {
      this.#refuse(duplex, peer, { ok: false, code: 'local-close', message: 'relay shutting down' }, hello.dbId);
      return;
    }
    this.#run(db, first.duplex, stream, peer, verdict.claims);
  }

  /** The checks before a session (see the module comment). */
  async #judge(hello: Hello, remote: PeerId): Promise<Verdict> {
    if (nodeIdOfPeer(remote) !== hello.nodeId)
      return { ok: false, code: 'unauthorized', message: 'node id does not match the connection key', reason: 'key' };
    const peer = remote.toString();
    const fromRelay = this.#peerRelays.has(peer);
    if (hello.role === 'relay' && !fromRelay)
      return { ok: false, code: 'unauthorized', message: "says it is a relay but is not one of this relay's peers", reason: 'role' };
    try {
      validateDbId(hello.dbId);
    } catch {
      return { ok: false, code: 'wrong-database', message: 'not a database id' };
    }
    if (this.#config.databases && !this.#config.databases.includes(hello.dbId))
      return { ok: false, code: 'wrong-database', message: `this relay does not serve database '${hello.dbId}'` };
    // Another relay of the deployment: its key is the credential.
    if (hello.role === 'relay') return { ok: true, claims: undefined };
    let claims: DeviceClaims;
    try {
      claims = await this.#checkDeviceToken(hello.credentials, hello.dbId, peer);
    } catch (err) {
      if (err instanceof TokenError) return { ok: false, code: 'unauthorized', message: err.message, reason: err.reason };
      throw err;
    }
    const rules = this.#config.rules;
    const read = rules ? judgeRead(rules, claims.payload, hello.filter) : true;
    if (read !== true) return { ok: false, code: 'forbidden', message: read, reason: 'rules' };
    return { ok: true, claims };
  }

  /**
   * A device token for `dbId` presented by (or for) `peer`: signed by this relay's key, valid
   * now, and bound to that peer id (a token that names no peer belongs to the first peer id that
   * presented it). Throws TokenError.
   */
  async #checkDeviceToken(credentials: Uint8Array, dbId: string, peer: string): Promise<DeviceClaims> {
    const { publicKey, issuer } = this.#keys.tokenKey;
    const claims = await verifyDeviceToken(credentials, { publicKey, issuer, dbId, peerId: peer });
    if (claims.peer === undefined) {
      const bound = this.#bindings.bind(claims.tokenId, peer, systemClock.now());
      if (bound !== peer) throw new TokenError('peer', `bound to peer ${bound}`);
    }
    return claims;
  }

  #refuse(duplex: FrameDuplex, peer: string, verdict: Extract<Verdict, { ok: false }>, dbId?: string): void {
    this.metrics.sessionsRefused.inc({ code: verdict.code });
    if (verdict.reason) this.metrics.authFailures.inc({ reason: verdict.reason });
    this.#log.warn({ peer, db: dbId, code: verdict.code, reason: verdict.message }, 'session refused');
    refuse(duplex, verdict.code, verdict.message);
  }

  #run(db: BlazeDB, duplex: FrameDuplex, stream: Stream, peer: string, claims: DeviceClaims | undefined, dialed?: string): SyncSession {
    const session = new SyncSession({
      source: this.#judgedSource(db, peer, claims),
      duplex,
      role: 'relay',
      // Inbound: checked above, before this session existed. Dialed: a configured relay,
      // whose key Noise checked against the address; its HELLO must say it is that relay.
      authorize: dialed === undefined ? () => true : (hello) => this.#isRelayHello(hello, peer),
      helloAfterPeer: dialed === undefined,
      scheduler: realScheduler,
      maxFrameBytes: this.#config.maxFrameBytes,
      stallTimeoutMs: this.#config.stallTimeoutSeconds * 1000,
      // Skipped dots only advance a partial peer's vector (for GC): merged over 2 s, hundreds of
      // partial peers cost a few frames per second each, not one per commit.
      skipDelayMs: SKIP_DELAY_MS,
      shareFrames: () => (this.#sessionsPerDb.get(db.dbId) ?? 0) >= SHARE_FRAMES_FROM_SESSIONS,
    });
    const entry: HubSession = { dbId: db.dbId, peer, claims, stream, counted: session.stats };
    this.#sessions.set(session, entry);
    this.#sessionsPerDb.set(db.dbId, (this.#sessionsPerDb.get(db.dbId) ?? 0) + 1);
    this.metrics.sessionsOpened.inc({ db: db.dbId });
    this.#log.info({ peer, db: db.dbId, sub: claims?.sub, relay: claims === undefined }, 'session opened');
    session.onClose((reason) => {
      this.#count(session, entry);
      this.#sessions.delete(session);
      this.#sessionsPerDb.set(db.dbId, (this.#sessionsPerDb.get(db.dbId) ?? 1) - 1);
      if (reason.code !== 'local-close' && reason.code !== 'peer-closed') this.metrics.sessionsRefused.inc({ code: reason.code });
      this.#log.info({ peer, db: db.dbId, code: reason.code, reason: reason.message }, 'session closed');
      if (ABUSE.has(reason.code) && !reason.byPeer) this.#cutOff(peer, reason.code, reason.message);
    });
    session.start();
    return session;
  }

  /**
   * The database as a session's source. With rules, a device's ops are judged before they are
   * applied: each by the write rule of its collection for its author's claims, on the record
   * without and with it; a refused op becomes a void (counted, never applied, announced to every
   * session as a VOID). The author is the device itself, or, for a run of another device's ops
   * it forwards, that device: the session checked the run's signature and #admitAuthor its token
   * (docs/relay.md, Authorship across hops). Any other op of another origin from a device is
   * forged or misrouted, and the session is closed with nothing of its frames applied; so is a
   * snapshot from it (merge states, which no rule can judge). Relays of the deployment pass ops
   * they judged already, and their verdicts.
   */
  #judgedSource(db: BlazeDB, peer: string, claims: DeviceClaims | undefined): SyncSource {
    const source = databaseSource(db);
    if (claims === undefined) return source;
    // Devices whose signed runs this device forwards: each writes by its own token's claims.
    const authors = new Map<string, DeviceClaims>();
    const admitAuthor = (author: Author) => this.#admitAuthor(db.dbId, peer, author, authors);
    const rules = this.#config.rules;
    if (!rules) return { ...source, admitAuthor };
    const sender = nodeIdOfPeer(peerIdFromString(peer));
    const judge = (op: Op, before: Doc | undefined, after: Doc | undefined) => {
      const writer = op.node === sender ? claims : authors.get(op.node);
      if (writer && rules.mayWrite(writer.payload, op.collection, before, after)) return true;
      this.metrics.opsRejected.inc({ db: db.dbId, collection: op.collection });
      return false;
    };
    return {
      ...source,
      admitAuthor,
      apply: (items, session) => {
        for (const item of items) {
          // A signed run's author was checked by the session (signature) and #admitAuthor (token).
          if (item.kind === 'ops' && item.signed) continue;
          const forged = item.kind === 'ops' || item.kind === 'record' ? item.ops.find((op) => op.node !== sender) : undefined;
          if (forged) {
            this.metrics.authFailures.inc({ reason: 'authorship' });
            session.close('forbidden', `op ${forged.node}:${forged.seq} is not this device's own write`);
            return;
          }
        }
        db.engine.applySync(items, session, judge);
      },
      // A snapshot carries merge states, not ops: nothing in it could be judged or attributed.
      applySnapshot: (_version, _chunks, session) => {
        this.metrics.authFailures.inc({ reason: 'authorship' });
        session.close('forbidden', 'a device sends a relay with rules no snapshot (its writes go as ops, judged one by one)');
        throw new Error('refused: a snapshot from a device under rules');
      },
    };
  }

  /**
   * Whether a device whose writes another device forwards (signed runs, docs/relay.md,
   * Authorship) may write: its token, checked as if it had connected itself with its own key.
   */
  async #admitAuthor(dbId: string, forwarder: string, author: Author, admitted: Map<string, DeviceClaims>): Promise<true | string> {
    const peer = peerIdFromPublicKey(publicKeyFromRaw(author.publicKey)).toString();
    try {
      admitted.set(author.node, await this.#checkDeviceToken(author.credentials, dbId, peer));
      return true;
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      this.metrics.authFailures.inc({ reason: 'author' });
      this.#log.warn({ peer: forwarder, db: dbId, author: author.node, reason: err.message }, 'forwarded writes refused: the author token');
      return `author ${author.node}: ${err.message}`;
    }
  }

  #isRelayHello(hello: Hello, peer: string): true | string {
    if (nodeIdOfPeer(peerIdFromString(peer)) !== hello.nodeId) return 'node id does not match the connection key';
    return hello.role === 'relay' ? true : 'a configured relay that does not say it is one';
  }

  /** Opens the sync session of one database with another relay (a ConnectionPolicy dial). */
  async #dialRelay(link: string): Promise<void> {
    const [dbId, peer] = link.split(' ') as [string, string];
    const db = this.#opened.get(dbId);
    const address = this.#peerRelays.get(peer);
    if (!db || !address || this.#stopping) return;
    let stream: Stream;
    try {
      stream = await this.#libp2p.dialProtocol(address, PROTOCOL_ID, { signal: AbortSignal.timeout(10_000) });
    } catch (err) {
      this.#log.warn({ relay: peer, db: dbId, err: (err as Error).message }, 'cannot reach a peer relay');
      this.#relayLinks.disconnected(link);
      return;
    }
    if (this.#stopping) {
      stream.abort(new Error('relay shutting down'));
      return;
    }
    const session = this.#run(db, streamDuplex(stream, { maxFrameBytes: this.#config.maxFrameBytes }), stream, peer, undefined, link);
    session.onStateChange((state) => {
      if (state === 'syncing') this.#relayLinks.connected(link);
    });
    session.onClose(() => this.#relayLinks.disconnected(link));
  }

  /** Counts ops a session brought against its peer's rate; a peer over it is cut off. */
  #meter(session: SyncSession, ops: number): void {
    const entry = this.#sessions.get(session);
    if (!entry || entry.claims === undefined) return; // relays of the deployment are not limited
    if (this.#opBuckets.take(entry.peer, ops, systemClock.now())) return;
    this.#log.warn({ peer: entry.peer, db: entry.dbId, limit: this.#config.maxOpsPerSecondPerPeer }, 'peer over its op rate: cut off');
    session.close('rate-limited', `more than ${this.#config.maxOpsPerSecondPerPeer} ops/s`);
  }

  /** Counts a sync stream `peer` opened; false when it opens them faster than a peer should. */
  #takeStream(peer: string): boolean {
    return this.#streamBuckets.take(peer, 1, systemClock.now());
  }

  #isBanned(peer: string): boolean {
    const until = this.#banned.get(peer);
    if (until === undefined) return false;
    if (until > systemClock.now()) return true;
    this.#banned.delete(peer);
    return false;
  }

  /**
   * Disconnects a misbehaving peer (every connection of it) and refuses it for BAN_MS: honest
   * peers never flood streams or send frames that are not the protocol's.
   */
  #cutOff(peer: string, reason: string, message: string): void {
    if (this.#isBanned(peer)) return;
    const now = systemClock.now();
    for (const [banned, until] of this.#banned) if (until <= now) this.#banned.delete(banned); // expired
    this.#banned.set(peer, now + BAN_MS);
    this.metrics.peersCutOff.inc({ reason });
    this.#log.warn({ peer, reason, detail: message, seconds: BAN_MS / 1000 }, 'peer cut off');
    this.#libp2p.hangUp(peerIdFromString(peer)).catch(() => {});
  }

  /** Adds a session's traffic since the last count to the metrics. */
  #count(session: SyncSession, entry: HubSession): void {
    const now = session.stats;
    const was = entry.counted;
    const db = entry.dbId;
    this.metrics.opsReceived.inc({ db }, now.opsReceived - was.opsReceived);
    this.metrics.opsSent.inc({ db }, now.opsSent - was.opsSent);
    this.metrics.bytesReceived.inc({ db }, now.bytesReceived - was.bytesReceived);
    this.metrics.bytesSent.inc({ db }, now.bytesSent - was.bytesSent);
    entry.counted = now;
  }

  /**
   * For a peer in sync here: the other peers of its databases that hold a circuit reservation
   * here (reachable by WebRTC through this relay). Undefined for anyone else.
   */
  #introductionsFor(asker: string): string[] | undefined {
    const dbs = new Set([...this.#sessions].filter(([s, e]) => e.peer === asker && s.state === 'syncing').map(([, e]) => e.dbId));
    if (dbs.size === 0) return undefined;
    const server = (this.#libp2p.services as { circuitRelay?: { reservations: { has(peer: PeerId): boolean } } }).circuitRelay;
    const peers = new Set<string>();
    for (const [session, e] of this.#sessions) {
      if (e.peer === asker || !dbs.has(e.dbId) || session.state !== 'syncing') continue;
      if (server?.reservations.has(peerIdFromString(e.peer))) peers.add(e.peer);
    }
    return [...peers];
  }
}

function isDbId(name: string): boolean {
  try {
    validateDbId(name);
    return true;
  } catch {
    return false;
  }
}
