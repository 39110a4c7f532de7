/**
 * A FrameDuplex over a TCP socket (or any Node duplex stream): each frame is a 4-byte
 * big-endian length then the bytes. The length is checked against `maxFrameBytes` before any
 * buffer is set aside for the frame; a larger claim ends the connection.
 */
import type { Socket } from 'node:net';
import type { FrameDuplex } from '../../src/sync/index.ts';

export interface SocketDuplexOptions {
  /** Largest frame accepted; a larger length prefix destroys the socket (default 4 MiB). */
  maxFrameBytes?: number;
}

export function socketDuplex(socket: Socket, options: SocketDuplexOptions = {}): FrameDuplex {
  const maxFrameBytes = options.maxFrameBytes ?? 4 * 1024 * 1024;
  const frameHandlers: ((frame: Uint8Array) => void)[] = [];
  // Received bytes not yet framed: chunks are joined only once a whole frame is there, so a
  // large frame arriving in many chunks is copied once.
  let chunks: Buffer[] = [];
  let buffered = 0;
  let closed = false;

  const joined = (): Buffer => {
    if (chunks.length > 1) chunks = [Buffer.concat(chunks, buffered)];
    return chunks[0] as Buffer;
  };

  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    buffered += chunk.length;
    while (buffered >= 4) {
      const head = (chunks[0] as Buffer).length >= 4 ? (chunks[0] as Buffer) : joined();
      const length = head.readUInt32BE(0);
      if (length > maxFrameBytes) {
        socket.destroy();
        return;
      }
      if (buffered < 4 + length) return;
      const all = joined();
      const frame = new Uint8Array(all.subarray(4, 4 + length));
      const rest = all.subarray(4 + length);
      chunks = rest.length > 0 ? [rest] : [];
      buffered = rest.length;
      for (const h of frameHandlers) h(frame);
    }
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
      const head = Buffer.alloc(4);
      head.writeUInt32BE(frame.length, 0);
      socket.write(head);
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
