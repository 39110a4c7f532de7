/**
 * A loopback TCP proxy that counts the bytes a library's sync sends both ways: every library
 * is measured on the wire the same way, whatever its transport (raw frames, HTTP, libp2p).
 */
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';

export interface ByteProxy {
  readonly port: number;
  /** Bytes through the proxy, both directions, since the last reset. */
  bytes(): number;
  reset(): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number): Promise<ByteProxy> {
  let bytes = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = netConnect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (!client.write(chunk)) upstream.pause();
    });
    upstream.on('drain', () => client.resume());
    client.on('drain', () => upstream.resume());
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    bytes: () => bytes,
    reset() {
      bytes = 0;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
