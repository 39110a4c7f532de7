/**
 * The relay's HTTP side: `GET /healthz` (200 with a JSON summary while the hub runs) and
 * `GET /metrics` (Prometheus text). Nothing else is served.
 */
import { createServer, type Server } from 'node:http';
import type { RelayHub } from './hub.ts';
import type { Logger } from './log.ts';

export async function startHttp(hub: RelayHub, address: { host: string; port: number }, log: Logger): Promise<Server> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://relay').pathname;
    if (request.method !== 'GET') {
      response.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/healthz') {
      const body = { status: 'ok', peerId: hub.peerId, sessions: hub.sessions().length, databases: hub.databaseIds() };
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      return;
    }
    if (path === '/metrics') {
      hub.metrics.text().then(
        (text) => response.writeHead(200, { 'content-type': hub.metrics.contentType }).end(text),
        (err: Error) => {
          log.error({ err }, 'metrics failed');
          response.writeHead(500).end();
        },
      );
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: /healthz and /metrics are served\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** The address a started server listens on (the port, when 0 was asked for). */
export function httpAddress(server: Server): string {
  const a = server.address();
  if (a === null || typeof a === 'string') return String(a);
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
