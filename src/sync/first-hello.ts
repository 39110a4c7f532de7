/**
 * The accepting side of a node that serves several databases (a relay) learns which one a
 * session is for from the peer's HELLO, before any SyncSession exists: `readHello` waits for
 * the first frame, and hands back a duplex that delivers every frame, that one included, to
 * the session created next. `refuse` ends a connection with a typed reason without one.
 */
import { BlazeError } from '../errors.ts';
import { DuplexHandlers, type FrameDuplex } from './duplex.ts';
import type { CloseCode } from './errors.ts';
import { decodeMessage, encodeMessage, type Hello } from './messages.ts';

/** The first frame was not a HELLO, or the connection ended before one came. */
export class NoHelloError extends BlazeError {
  override name = 'NoHelloError';
}

export interface FirstHello {
  /** The peer's HELLO, decoded (rejects with NoHelloError). */
  readonly hello: Promise<Hello>;
  /** The connection, replaying the HELLO frame and any that came after to its next listener. */
  readonly duplex: FrameDuplex;
}

export function readHello(inner: FrameDuplex, maxFrameBytes: number): FirstHello {
  const duplex = new ReplayingDuplex(inner);
  const hello = new Promise<Hello>((resolve, reject) => {
    duplex.firstFrame((frame) => {
      try {
        const message = decodeMessage(frame, maxFrameBytes);
        if (message.type === 'hello') resolve(message);
        else reject(new NoHelloError(`the first frame is ${message.type.toUpperCase()}, not HELLO`));
      } catch (err) {
        reject(new NoHelloError(`the first frame is not a message: ${(err as Error).message}`));
      }
    });
    inner.onClose(() => reject(new NoHelloError('the connection closed before a HELLO')));
  });
  hello.catch(() => {}); // the caller may refuse for another reason first
  return { hello, duplex };
}

/** Ends a connection whose peer is refused before a session exists, saying why. */
export function refuse(duplex: FrameDuplex, code: CloseCode, message: string): void {
  duplex.send(encodeMessage({ type: 'close', code, message }));
  duplex.close();
}

class ReplayingDuplex extends DuplexHandlers implements FrameDuplex {
  readonly #inner: FrameDuplex;
  /** Frames held until a listener attaches and the replay has run. */
  #held: Uint8Array[] | undefined = [];
  #onFirst: ((frame: Uint8Array) => void) | undefined;
  #replayQueued = false;

  constructor(inner: FrameDuplex) {
    super();
    this.#inner = inner;
    inner.onFrame((frame) => {
      const first = this.#onFirst;
      this.#onFirst = undefined;
      if (this.#held) this.#held.push(frame);
      else this.emitFrame(frame);
      first?.(frame);
    });
    inner.onDrain(() => this.emitDrain());
    inner.onClose(() => this.emitClose());
  }

  firstFrame(handler: (frame: Uint8Array) => void): void {
    this.#onFirst = handler;
  }

  override onFrame(handler: (frame: Uint8Array) => void): void {
    super.onFrame(handler);
    if (this.#replayQueued) return;
    this.#replayQueued = true;
    // After the listener's constructor has finished; frames arriving meanwhile keep their place.
    queueMicrotask(() => {
      const held = this.#held ?? [];
      this.#held = undefined;
      for (const frame of held) this.emitFrame(frame);
    });
  }

  send(frame: Uint8Array): boolean {
    return this.#inner.send(frame);
  }

  close(): void {
    this.#inner.close();
  }
}
