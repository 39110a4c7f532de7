/**
 * Length-prefixed frames over a loopback TCP socket, for the libraries whose sync protocol is
 * messages the app carries itself (Yjs, Automerge): the same framing BlazeDB's TCP transport uses.
 */
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { FrameReader, frameHeader } from '../../../node/transport/frames.ts';
import type { Contact } from './contender.ts';

export interface FramedSocket {
  send(frame: Uint8Array): void;
  close(): void;
}

function framed(socket: Socket, onFrame: (frame: Uint8Array) => void): FramedSocket {
  socket.setNoDelay(true);
  const reader = new FrameReader(256 * 1024 * 1024);
  socket.on('data', (chunk: Buffer) => {
    for (const frame of reader.push(chunk)) onFrame(frame);
  });
  socket.on('error', () => {});
  return {
    send(frame) {
      socket.write(frameHeader(frame.length));
      socket.write(frame);
    },
    close() {
      socket.destroy();
    },
  };
}

/** Listens on loopback; `onPeer` gets each connection and returns its frame handler. */
async function listenFramed(onPeer: OnPeer): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    let handler: (frame: Uint8Array) => void = () => {};
    const peer = framed(socket, (frame) => handler(frame));
    handler = onPeer(peer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

async function connectFramed(port: number, onFrame: (frame: Uint8Array) => void): Promise<FramedSocket> {
  const socket = netConnect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return framed(socket, onFrame);
}

type OnPeer = (peer: FramedSocket) => (frame: Uint8Array) => void;

/**
 * One replica's end of the link: serves peers (replica a) or joins one (replica b). `onPeer`
 * sets up each connection and returns its frame handler; `onGone` forgets a peer that left.
 */
export function framedLink(onPeer: OnPeer, onGone: (peer: FramedSocket) => void) {
  let server: Server | undefined;
  let joined: FramedSocket | undefined;
  return {
    async serve(): Promise<Contact> {
      const listening = await listenFramed(onPeer);
      server = listening.server;
      return { port: listening.port, info: '' };
    },
    async join(contact: Contact): Promise<void> {
      let onFrame: (frame: Uint8Array) => void = () => {};
      joined = await connectFramed(contact.port, (frame) => onFrame(frame));
      onFrame = onPeer(joined);
    },
    async leave(): Promise<void> {
      if (!joined) return;
      onGone(joined);
      joined.close();
      joined = undefined;
    },
    close(): void {
      server?.close();
    },
  };
}
