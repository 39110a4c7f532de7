/**
 * A FrameDuplex over a libp2p stream. libp2p 3 streams carry bytes, not our frames (a message
 * event may hold part of a frame or several), so frames are length-prefixed as on TCP.
 * Backpressure is the stream's own: `send` returns false when its buffer is full and the
 * session waits for `drain`.
 */
import type { Stream } from '@libp2p/interface';
import { DuplexHandlers, type FrameDuplex } from '../../src/sync/index.ts';
import { FrameReader, frameHeader } from '../transport/frames.ts';

export interface StreamDuplexOptions {
  /** Largest frame accepted; a larger length prefix aborts the stream (default 4 MiB). */
  maxFrameBytes?: number;
  /** Told why, when the peer's bytes are not frames (too large): the stream is aborted. */
  onFramingError?: (err: Error) => void;
}

class StreamDuplex extends DuplexHandlers implements FrameDuplex {
  readonly #stream: Stream;
  readonly #reader: FrameReader;
  #closed = false;

  constructor(stream: Stream, options: StreamDuplexOptions) {
    super();
    this.#stream = stream;
    this.#reader = new FrameReader(options.maxFrameBytes);
    stream.addEventListener('message', (event) => {
      let frames: Uint8Array[];
      try {
        frames = this.#reader.push(event.data.subarray());
      } catch (err) {
        stream.abort(err as Error);
        options.onFramingError?.(err as Error);
        return;
      }
      for (const frame of frames) if (!this.#closed) this.emitFrame(frame);
    });
    stream.addEventListener('drain', () => this.emitDrain());
    stream.addEventListener('close', () => this.#ended());
  }

  send(frame: Uint8Array): boolean {
    if (this.#closed || this.#stream.writeStatus !== 'writable') return false;
    // One buffer per frame: the stream may coalesce sends, the header must stay with its frame.
    const bytes = new Uint8Array(4 + frame.length);
    bytes.set(frameHeader(frame.length));
    bytes.set(frame, 4);
    return this.#stream.send(bytes);
  }

  close(): void {
    if (this.#closed) return;
    // Sent frames still go out before the stream closes; a stream that cannot close cleanly
    // within the timeout is reset.
    this.#stream.close({ signal: AbortSignal.timeout(5_000) }).catch((err: Error) => this.#stream.abort(err));
    this.#ended();
  }

  #ended(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.emitClose();
  }
}

export function streamDuplex(stream: Stream, options: StreamDuplexOptions = {}): FrameDuplex {
  return new StreamDuplex(stream, options);
}
