/**
 * Length-prefixed framing for byte streams (TCP sockets, libp2p streams): each frame is a
 * 4-byte big-endian length then the bytes. The length is checked against the limit before any
 * buffer is set aside for the frame.
 */

import { DEFAULT_MAX_FRAME_BYTES } from '../../src/sync/index.ts';

/** A peer announced a frame larger than the limit: the connection must end. */
export class FrameTooLargeError extends Error {
  override name = 'FrameTooLargeError';
  constructor(length: number, limit: number) {
    super(`frame of ${length} bytes announced; the limit is ${limit}`);
  }
}

/** Cuts a byte stream into frames. */
export class FrameReader {
  readonly #maxFrameBytes: number;
  // Received bytes not yet framed: chunks are joined only once a whole frame is there, so a
  // large frame arriving in many chunks is copied once.
  #chunks: Uint8Array[] = [];
  #buffered = 0;

  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Takes the next chunk; returns the frames it completed. Throws FrameTooLargeError. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const frames: Uint8Array[] = [];
    while (this.#buffered >= 4) {
      const head = (this.#chunks[0] as Uint8Array).length >= 4 ? (this.#chunks[0] as Uint8Array) : this.#joined();
      const length = ((head[0] as number) * 2 ** 24 + ((head[1] as number) << 16) + ((head[2] as number) << 8) + (head[3] as number)) >>> 0;
      if (length > this.#maxFrameBytes) throw new FrameTooLargeError(length, this.#maxFrameBytes);
      if (this.#buffered < 4 + length) break;
      const all = this.#joined();
      frames.push(all.slice(4, 4 + length));
      const rest = all.subarray(4 + length);
      this.#chunks = rest.length > 0 ? [rest] : [];
      this.#buffered = rest.length;
    }
    return frames;
  }

  #joined(): Uint8Array {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks, this.#buffered)];
    return this.#chunks[0] as Uint8Array;
  }
}

/** The 4-byte length header of a frame. */
export function frameHeader(length: number): Uint8Array {
  const head = new Uint8Array(4);
  new DataView(head.buffer).setUint32(0, length);
  return head;
}
