/**
 * A FrameDuplex over a TCP socket (or any Node duplex stream), length-prefixed (frames.ts).
 * A frame longer than `maxFrameBytes` announced by the peer ends the connection.
 */
import type { Socket } from 'node:net';
import type { FrameDuplex } from '../../src/sync/index.ts';
import { FrameReader, frameHeader } from './frames.ts';

export interface SocketDuplexOptions {
  /** Largest frame accepted; a larger length prefix destroys the socket (default 4 MiB). */
  maxFrameBytes?: number;
}

export function socketDuplex(socket: Socket, options: SocketDuplexOptions = {}): FrameDuplex {
  const reader = new FrameReader(options.maxFrameBytes);
  const frameHandlers: ((frame: Uint8Array) => void)[] = [];
  let closed = false;

  socket.on('data', (chunk: Buffer) => {
    let frames: Uint8Array[];
    try {
      frames = reader.push(chunk);
    } catch {
      socket.destroy();
      return;
    }
    for (const frame of frames) for (const h of frameHandlers) h(frame);
  });
  socket.on('close', () => {
    closed = true;
  });
  // A reset or refused connection ends the duplex like a close ('close' follows 'error').
  socket.on('error', () => {
    closed = true;
  });

  return {
    send(frame) {
      if (closed || socket.destroyed) return false;
      socket.write(frameHeader(frame.length));
      return socket.write(frame);
    },
    close() {
      closed = true;
      socket.end();
    },
    onFrame(handler) {
      frameHandlers.push(handler);
    },
    onDrain(handler) {
      socket.on('drain', handler);
    },
    onClose(handler) {
      socket.on('close', () => handler());
    },
  };
}
