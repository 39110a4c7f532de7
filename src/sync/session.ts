/**
 * A sync session: one peer, over one frame duplex, in either direction.
 *
 * 1. Both sides send HELLO (protocol version, database id, node id, role, version vector,
 *    credentials). Each checks the other's: an unknown major version, another database or
 *    credentials the authorizer refuses end the session with a typed reason and nothing sent.
 * 2. Anti-entropy: each side sends the ops the other lacks by version vector, per origin in
 *    sequence order, read from its op log in bounded batches.
 * 3. Live: after every local commit (a local write, or ops applied from another session) the
 *    same log-driven pump sends what the peer lacks. Nothing is queued in memory: a full
 *    transport just pauses the pump until it drains, and the log is the buffer.
 * 4. After applying each OPS frame the receiver ACKs with its version vector.
 *
 * The session never touches a transport or storage directly: a `FrameDuplex` and a
 * `SyncSource` (the local database) are all it knows.
 */

import { BatchReadContext, BatchWriteContext } from '../codec/index.ts';
import type { NodeId } from '../identity/node-id.ts';
import type { Op } from '../ops/op.ts';
import type { Cancel, Scheduler } from '../runtime.ts';
import {
  DEFAULT_ACK_INTERVAL_MS,
  DEFAULT_BATCH_OPS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_FRAME_BYTES,
  PROTOCOL_MAJOR,
  PROTOCOL_MINOR,
  SESSION_INTERN_CAPACITY,
} from './constants.ts';
import type { FrameDuplex } from './duplex.ts';
import { type CloseCode, isCloseCode, SyncError } from './errors.ts';
import {
  type Ack,
  type AckLevel,
  decodeMessage,
  encodeMessage,
  type Hello,
  type Message,
  type Role,
  type WireVersion,
} from './messages.ts';

/** What a session needs of the local database. */
export interface SyncSource {
  readonly dbId: string;
  readonly nodeId: NodeId;
  /** Highest contiguous seq held of each origin. */
  version(): Map<NodeId, number>;
  /**
   * Stored ops of `node` after `seq`, in order: at most `limit`, about `maxBytes` encoded at
   * most (at least one op), none beyond `upTo`.
   */
  opsAfter(node: NodeId, seq: number, limit: number, maxBytes: number, upTo: number): Op[];
  /** Applies ops durably; `session` is told to ops listeners so it is not echoed to. */
  apply(ops: readonly Op[], session: SyncSession): void;
  /** Called after each commit with its ops and who supplied them. */
  onOps(listener: (ops: readonly Op[], source: unknown) => void): () => void;
  /** A peer's version vector: a replica learns from it that its own id is in use elsewhere. */
  noteRemoteVersion(version: ReadonlyMap<NodeId, number>): void;
  /** Called when the local database closes; returns an unsubscribe. */
  onClose(listener: () => void): () => void;
  /** A peer acknowledged holding `version` at `level` (kept for `db.synced` and GC). */
  recordAck(peer: NodeId, level: AckLevel, version: ReadonlyMap<NodeId, number>): void;
}

/** Decides whether a peer may sync, from its HELLO. Return a reason string to refuse. */
export type Authorizer = (hello: Hello) => true | string;

export interface SyncSessionInit {
  source: SyncSource;
  duplex: FrameDuplex;
  role?: Role;
  credentials?: Uint8Array;
  authorize?: Authorizer;
  /** Largest frame accepted or sent (default 4 MiB). */
  maxFrameBytes?: number;
  /** Ops per OPS frame at most (default 1000). */
  batchOps?: number;
  /** The level this node acknowledges at: a relay says 'relay-durable'. Default by role. */
  ackLevel?: AckLevel;
  /**
   * With a scheduler, ops committed within `batchWindowMs` of each other (default 0: within the
   * same task) go out as one frame; without one, every commit is pushed at once.
   */
  scheduler?: Scheduler;
  batchWindowMs?: number;
  /**
   * With a scheduler: also acknowledge every `ackIntervalMs` (default 5 s) when this side's
   * version vector moved since its last ACK (ops that arrived through other sessions).
   */
  ackIntervalMs?: number;
  /** With a scheduler: close a session whose peer sends no HELLO within this (default 10 s). */
  handshakeTimeoutMs?: number;
}

export type SessionState = 'handshake' | 'syncing' | 'closed';

export interface PeerInfo {
  readonly nodeId: NodeId;
  readonly role: Role;
}

export class SyncSession {
  readonly #source: SyncSource;
  readonly #duplex: FrameDuplex;
  readonly #role: Role;
  readonly #credentials: Uint8Array;
  readonly #authorize: Authorizer;
  readonly #maxFrameBytes: number;
  readonly #batchOps: number;
  readonly #ackLevel: AckLevel;
  #state: SessionState = 'handshake';
  #peer: PeerInfo | undefined;
  /** What the peer is known to hold: its HELLO, its ACKs, and what was sent to it. */
  readonly #peerHas = new Map<NodeId, number>();
  /** The peer's last acknowledged version vector, and at which level. */
  #peerAck: Ack | undefined;
  #blocked = false;
  #pumping = false;
  /** Ops of frames received and checked but not yet applied (see #onOps). */
  #pendingOps: Op[] = [];
  readonly #pendingHeld = new Map<NodeId, number>();
  #applyScheduled = false;
  readonly #scheduler: Scheduler | undefined;
  readonly #batchWindowMs: number;
  #scheduledPump: Cancel | undefined;
  readonly #ackIntervalMs: number;
  #ackTimer: Cancel | undefined;
  #helloTimer: Cancel | undefined;
  readonly #handshakeTimeoutMs: number;
  /** The version vector last acknowledged to the peer, to skip ACKs that say nothing new. */
  #lastAcked = '';
  /** One interning stream per direction for OPS batches (see messages.ts). */
  readonly #outStream = new BatchWriteContext(SESSION_INTERN_CAPACITY);
  readonly #inStream = new BatchReadContext(SESSION_INTERN_CAPACITY);
  #stopListening: (() => void) | undefined;
  readonly #stopOnDbClose: () => void;
  #closeReason: SyncError | undefined;
  readonly #closeHandlers: ((reason: SyncError) => void)[] = [];
  readonly #stateHandlers: ((state: SessionState) => void)[] = [];
  readonly #ackHandlers: ((ack: Ack) => void)[] = [];

  constructor(init: SyncSessionInit) {
    this.#source = init.source;
    this.#duplex = init.duplex;
    this.#role = init.role ?? 'peer';
    this.#credentials = init.credentials ?? new Uint8Array(0);
    this.#authorize = init.authorize ?? (() => true);
    this.#maxFrameBytes = init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#batchOps = init.batchOps ?? DEFAULT_BATCH_OPS;
    this.#ackLevel = init.ackLevel ?? (this.#role === 'relay' ? 'relay-durable' : 'local-durable');
    this.#scheduler = init.scheduler;
    this.#batchWindowMs = init.batchWindowMs ?? 0;
    this.#ackIntervalMs = init.ackIntervalMs ?? DEFAULT_ACK_INTERVAL_MS;
    this.#handshakeTimeoutMs = init.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.#duplex.onFrame((frame) => this.#guard(() => this.#onFrame(frame)));
    this.#duplex.onDrain(() =>
      this.#guard(() => {
        this.#blocked = false;
        this.#pump();
      }),
    );
    this.#stopOnDbClose = this.#source.onClose(() => this.close('local-close', 'the database closed'));
    this.#duplex.onClose(() => this.#end(new SyncError('peer-closed', 'the transport closed')));
  }

  get state(): SessionState {
    return this.#state;
  }

  get peer(): PeerInfo | undefined {
    return this.#peer;
  }

  /** The peer's latest acknowledgement (version vector and level). */
  get peerAck(): Ack | undefined {
    return this.#peerAck;
  }

  get closeReason(): SyncError | undefined {
    return this.#closeReason;
  }

  /** Each `on...` returns a function that removes the handler. */
  onClose(handler: (reason: SyncError) => void): () => void {
    return listen(this.#closeHandlers, handler);
  }

  onStateChange(handler: (state: SessionState) => void): () => void {
    return listen(this.#stateHandlers, handler);
  }

  onAck(handler: (ack: Ack) => void): () => void {
    return listen(this.#ackHandlers, handler);
  }

  /** Sends this side's HELLO (and, with a scheduler, starts the handshake deadline). */
  start(): void {
    this.#helloTimer = this.#scheduler?.after(this.#handshakeTimeoutMs, () =>
      this.#guard(() => {
        if (this.#state === 'handshake') this.close('protocol', `no HELLO within ${this.#handshakeTimeoutMs} ms`);
      }),
    );
    this.#send({
      type: 'hello',
      major: PROTOCOL_MAJOR,
      minor: PROTOCOL_MINOR,
      dbId: this.#source.dbId,
      nodeId: this.#source.nodeId,
      role: this.#role,
      version: this.#source.version(),
      credentials: this.#credentials,
    });
  }

  /** Ends the session, telling the peer why. */
  close(code: CloseCode = 'local-close', message = 'closed'): void {
    if (this.#state === 'closed') return;
    this.#send({ type: 'close', code, message });
    this.#end(new SyncError(code, message));
    this.#duplex.close();
  }

  #onFrame(frame: Uint8Array): void {
    if (this.#state === 'closed') return;
    if (frame.length > this.#maxFrameBytes) {
      this.close('frame-too-large', `frame of ${frame.length} bytes, limit ${this.#maxFrameBytes}`);
      return;
    }
    let message: Message;
    try {
      message = decodeMessage(frame, this.#maxFrameBytes, this.#inStream);
    } catch (err) {
      this.close('malformed-frame', (err as Error).message);
      return;
    }
    switch (message.type) {
      case 'hello':
        this.#onHello(message);
        return;
      case 'ops':
        this.#onOps(message.ops);
        return;
      case 'ack':
        this.#onAck(message);
        return;
      case 'close':
        // The peer's reason, when it is one of ours; otherwise just that it closed.
        this.#end(new SyncError(isCloseCode(message.code) ? message.code : 'peer-closed', `peer closed: ${message.message}`));
        this.#duplex.close();
        return;
    }
  }

  #onHello(hello: Hello): void {
    if (this.#state !== 'handshake') {
      this.close('protocol', 'a second HELLO');
      return;
    }
    if (hello.major !== PROTOCOL_MAJOR) {
      this.close('version-unsupported', `peer speaks protocol ${hello.major}.${hello.minor}, this node ${PROTOCOL_MAJOR}.x`);
      return;
    }
    if (hello.dbId !== this.#source.dbId) {
      this.close('wrong-database', `peer syncs database '${hello.dbId}'`);
      return;
    }
    if (hello.nodeId === this.#source.nodeId) {
      this.close('protocol', "the peer has this node's own id");
      return;
    }
    const verdict = this.#authorize(hello);
    if (verdict !== true) {
      this.close('unauthorized', verdict);
      return;
    }
    this.#source.noteRemoteVersion(hello.version);
    this.#helloTimer?.();
    this.#helloTimer = undefined;
    this.#peer = { nodeId: hello.nodeId, role: hello.role };
    for (const [node, seq] of this.#known(hello.version)) this.#peerHas.set(node, seq);
    this.#setState('syncing');
    // Acknowledge at once what we hold, at our level: a peer whose writes we already have
    // learns they are durable here without waiting for new ops.
    this.#acknowledge();
    this.#scheduleAck();
    this.#stopListening = this.#source.onOps((_ops, source) => {
      if (source !== this) this.#guard(() => this.#pumpSoon());
    });
    this.#pump();
  }

  #onOps(ops: readonly Op[]): void {
    if (this.#state !== 'syncing') {
      this.close('protocol', 'ops before the handshake');
      return;
    }
    // Every op must continue its origin's sequence: what we hold, or what earlier frames and
    // this one brought. A frame that fails the check is dropped whole.
    const version = this.#source.version();
    const next = new Map<NodeId, number>();
    for (const op of ops) {
      const held = next.get(op.node) ?? this.#pendingHeld.get(op.node) ?? version.get(op.node) ?? 0;
      if (op.seq > held + 1) {
        this.close('gap', `op ${op.node}:${op.seq} skips ahead of ${op.node}:${held}`);
        return;
      }
      next.set(op.node, Math.max(held, op.seq));
    }
    // The peer holds what it sent: recorded before applying so the commit is not echoed back.
    for (const [node, seq] of next) {
      this.#pendingHeld.set(node, seq);
      if (seq > (this.#peerHas.get(node) ?? 0)) this.#peerHas.set(node, seq);
    }
    // Frames that arrive together (one socket read) are applied in one transaction: the commit,
    // not the ops, is what a durable apply pays for.
    for (const op of ops) this.#pendingOps.push(op);
    if (!this.#applyScheduled) {
      this.#applyScheduled = true;
      queueMicrotask(() => this.#guard(() => this.#applyPending()));
    }
  }

  /** Applies the frames received since the last apply, durably, then acknowledges. */
  #applyPending(): void {
    this.#applyScheduled = false;
    if (this.#pendingOps.length === 0) return;
    const ops = this.#pendingOps;
    this.#pendingOps = [];
    this.#pendingHeld.clear();
    try {
      this.#source.apply(ops, this);
    } catch (err) {
      this.close('apply-failed', (err as Error).message);
      return;
    }
    if (this.#state === 'syncing') this.#acknowledge();
  }

  /** Sends an ACK with this side's version vector, unless it says nothing new. */
  #acknowledge(): void {
    const version = this.#source.version();
    const key = [...version].map(([n, s]) => `${n}:${s}`).join(',');
    if (key === this.#lastAcked) return;
    this.#lastAcked = key;
    this.#send({ type: 'ack', level: this.#ackLevel, version });
  }

  #scheduleAck(): void {
    if (!this.#scheduler || this.#state !== 'syncing') return;
    this.#ackTimer = this.#scheduler.after(this.#ackIntervalMs, () =>
      this.#guard(() => {
        this.#acknowledge();
        this.#scheduleAck();
      }),
    );
  }

  #onAck(ack: Ack): void {
    if (this.#state !== 'syncing') {
      this.close('protocol', 'an ACK before the handshake');
      return;
    }
    for (const [node, seq] of this.#known(ack.version)) if (seq > (this.#peerHas.get(node) ?? 0)) this.#peerHas.set(node, seq);
    this.#peerAck = ack;
    if (this.#peer) {
      // Only a relay's acknowledgement makes a write relay-durable, whatever a peer claims; and
      // only origins this node holds matter (a peer cannot grow our records with made-up ones).
      const level = this.#peer.role === 'relay' ? ack.level : 'local-durable';
      this.#source.recordAck(this.#peer.nodeId, level, this.#known(ack.version));
    }
    for (const h of [...this.#ackHandlers]) h(ack);
  }

  /**
   * Runs work triggered from outside (a frame, a drain, a commit, a timer): a failure there is
   * this session's failure, never an exception thrown into the transport or the writer.
   */
  #guard(work: () => void): void {
    try {
      work();
    } catch (err) {
      this.close('apply-failed', `local failure: ${(err as Error).message}`);
    }
  }

  /** The entries of a peer's vector for origins this node holds (the others do not concern it). */
  #known(version: ReadonlyMap<NodeId, number>): Map<NodeId, number> {
    const local = this.#source.version();
    const out = new Map<NodeId, number>();
    for (const [node, seq] of version) if (local.has(node)) out.set(node, seq);
    return out;
  }

  /** Pumps after the batch window, so a burst of commits travels as one frame. */
  #pumpSoon(): void {
    if (!this.#scheduler) {
      this.#pump();
      return;
    }
    this.#scheduledPump ??= this.#scheduler.after(this.#batchWindowMs, () => {
      this.#scheduledPump = undefined;
      this.#guard(() => this.#pump());
    });
  }

  /** Sends what the peer lacks, from the op log, until caught up or the transport is full. */
  #pump(): void {
    if (this.#state !== 'syncing' || this.#blocked || this.#pumping) return;
    this.#pumping = true;
    // Nothing is applied while pumping, so the local vector holds still for the whole loop.
    const version = this.#source.version();
    try {
      for (;;) {
        const origin = this.#firstBehind(version);
        if (!origin) return;
        // Half the frame limit in standalone op encodings: the streamed frame is smaller still.
        const upTo = version.get(origin) ?? 0;
        const ops = this.#source.opsAfter(origin, this.#peerHas.get(origin) ?? 0, this.#batchOps, this.#maxFrameBytes / 2, upTo);
        if (ops.length === 0) return;
        this.#peerHas.set(origin, (ops.at(-1) as Op).seq);
        if (!this.#send({ type: 'ops', ops })) {
          this.#blocked = true;
          return;
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  #firstBehind(version: ReadonlyMap<NodeId, number>): NodeId | undefined {
    for (const [node, seq] of version) if (seq > (this.#peerHas.get(node) ?? 0)) return node;
    return undefined;
  }

  #send(message: Message): boolean {
    if (this.#state === 'closed') return false;
    return this.#duplex.send(encodeMessage(message, this.#outStream));
  }

  #setState(state: SessionState): void {
    this.#state = state;
    for (const h of this.#stateHandlers) h(state);
  }

  #end(reason: SyncError): void {
    if (this.#state === 'closed') return;
    // Frames that passed their checks before the end are still applied.
    if (this.#pendingOps.length > 0 && reason.code !== 'apply-failed') {
      try {
        this.#applyPending();
      } catch {
        // The store failed or closed: nothing of those frames is applied, and nothing is lost
        // either, since the peer will send them again from its log.
      }
    }
    this.#closeReason = reason;
    this.#stopListening?.();
    this.#stopOnDbClose();
    this.#scheduledPump?.();
    this.#scheduledPump = undefined;
    this.#ackTimer?.();
    this.#ackTimer = undefined;
    this.#helloTimer?.();
    this.#helloTimer = undefined;
    this.#setState('closed');
    for (const h of this.#closeHandlers) h(reason);
  }

  /** For tests and stats: what the peer is known to hold. */
  peerVersion(): WireVersion {
    return new Map(this.#peerHas);
  }
}

function listen<T>(handlers: T[], handler: T): () => void {
  handlers.push(handler);
  return () => {
    const at = handlers.indexOf(handler);
    if (at >= 0) handlers.splice(at, 1);
  };
}
