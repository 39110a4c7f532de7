/**
 * The transport a sync session runs over: a duplex of whole frames with backpressure. libp2p
 * streams, TCP sockets (length-prefixed) and the simulator's links each adapt to it; the
 * session never sees which.
 */

export interface FrameDuplex {
  /** Sends one frame. Returns false once the transport's buffer is full: wait for `drain`. */
  send(frame: Uint8Array): boolean;
  /** Ends the duplex; the peer sees it closed. */
  close(): void;
  onFrame(handler: (frame: Uint8Array) => void): void;
  onDrain(handler: () => void): void;
  onClose(handler: () => void): void;
}

/** The handler lists of a FrameDuplex: transports extend it and call the `emit...` methods. */
export abstract class DuplexHandlers {
  readonly #frameHandlers: ((frame: Uint8Array) => void)[] = [];
  readonly #drainHandlers: (() => void)[] = [];
  readonly #closeHandlers: (() => void)[] = [];

  onFrame(handler: (frame: Uint8Array) => void): void {
    this.#frameHandlers.push(handler);
  }

  onDrain(handler: () => void): void {
    this.#drainHandlers.push(handler);
  }

  onClose(handler: () => void): void {
    this.#closeHandlers.push(handler);
  }

  protected emitFrame(frame: Uint8Array): void {
    for (const h of this.#frameHandlers) h(frame);
  }

  protected emitDrain(): void {
    for (const h of this.#drainHandlers) h();
  }

  protected emitClose(): void {
    for (const h of this.#closeHandlers) h();
  }
}

export interface PipeOptions {
  /** Bytes a side may have in flight before `send` returns false (default 1 MiB). */
  highWaterMark?: number;
}

/**
 * Two connected in-memory duplexes. Frames are delivered on a microtask, in order, as separate
 * copies; `send` returns false while more than `highWaterMark` bytes are undelivered.
 */
export function createPipe(options: PipeOptions = {}): [FrameDuplex, FrameDuplex] {
  const hwm = options.highWaterMark ?? 1024 * 1024;
  const a = new PipeEnd(hwm);
  const b = new PipeEnd(hwm);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

class PipeEnd extends DuplexHandlers implements FrameDuplex {
  peer: PipeEnd | undefined;
  readonly #hwm: number;
  #inFlight = 0;
  #blocked = false;
  #closed = false;

  constructor(hwm: number) {
    super();
    this.#hwm = hwm;
  }

  send(frame: Uint8Array): boolean {
    if (this.#closed) return false;
    const copy = frame.slice();
    this.#inFlight += copy.length;
    queueMicrotask(() => {
      this.#inFlight -= copy.length;
      // A frame sent before close still arrives (like bytes already on a socket).
      if (this.peer && !this.peer.#closed) this.peer.emitFrame(copy);
      if (this.#blocked && this.#inFlight <= this.#hwm / 2) {
        this.#blocked = false;
        this.emitDrain();
      }
    });
    if (this.#inFlight > this.#hwm) this.#blocked = true;
    return !this.#blocked;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    queueMicrotask(() => {
      this.emitClose();
      this.peer?.close();
    });
  }
}
