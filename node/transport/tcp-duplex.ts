/**
 * A FrameDuplex over a TCP socket (or any Node duplex stream), length-prefixed (frames.ts).
 * A frame longer than `maxFrameBytes` announced by the peer ends the connection.
 */
import type { Socket } from 'node:net';
import { DuplexHandlers, type FrameDuplex } from '../../src/sync/index.ts';
import { FrameReader, frameHeader } from './frames.ts';

export interface SocketDuplexOptions {
  /** Largest frame accepted; a larger length prefix destroys the socket (default 4 MiB). */
  maxFrameBytes?: number;
}

class SocketDuplex extends DuplexHandlers implements FrameDuplex {
  readonly #socket: Socket;
  #closed = false;

  constructor(socket: Socket, options: SocketDuplexOptions) {
    super();
    this.#socket = socket;
    const reader = new FrameReader(options.maxFrameBytes);
    socket.on('data', (chunk: Buffer) => {
      let frames: Uint8Array[];
      try {
        frames = reader.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const frame of frames) this.emitFrame(frame);
    });
    socket.on('drain', () => this.emitDrain());
    // A reset or refused connection ends the duplex like a close ('close' follows 'error').
    socket.on('error', () => {
      this.#closed = true;
    });
    socket.on('close', () => {
      this.#closed = true;
      this.emitClose();
    });
  }

  send(frame: Uint8Array): boolean {
    if (this.#closed || this.#socket.destroyed) return false;
    this.#socket.write(frameHeader(frame.length));
    return this.#socket.write(frame);
  }

  close(): void {
    this.#closed = true;
    this.#socket.end();
  }
}

export function socketDuplex(socket: Socket, options: SocketDuplexOptions = {}): FrameDuplex {
  return new SocketDuplex(socket, options);
}
