/**
 * The relay's HTTP side: `GET /healthz` (200 with a JSON summary while the hub runs),
 * `GET /metrics` (Prometheus text) and `POST /query` (query.ts). Nothing else is served.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ValidationError } from '../src/errors.ts';
import type { RelayHub } from './hub.ts';
import type { Logger } from './log.ts';
import { MAX_QUERY_BODY_BYTES, QueryRefusedError, runQuery } from './query.ts';

export async function startHttp(hub: RelayHub, address: { host: string; port: number }, log: Logger): Promise<Server> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://relay').pathname;
    if (path === '/query') {
      if (request.method !== 'POST') response.writeHead(405, { allow: 'POST' }).end();
      else void answerQuery(hub, request, response, log);
      return;
    }
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
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: /healthz, /metrics and /query are served\n');
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

async function answerQuery(hub: RelayHub, request: IncomingMessage, response: ServerResponse, log: Logger): Promise<void> {
  const json = (status: number, body: unknown) =>
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  try {
    const body = await readBody(request, MAX_QUERY_BODY_BYTES);
    json(200, await runQuery(hub, request.headers.authorization, body));
  } catch (err) {
    const status = err instanceof QueryRefusedError ? err.status : err instanceof ValidationError ? 400 : 500;
    if (status === 500) log.error({ err }, 'query failed');
    const { name, message } = status === 500 ? { name: 'Error', message: 'the query failed' } : (err as Error);
    json(status, { error: { name, message } });
  }
}

/** The request body as text; a QueryRefusedError (413) past `limit` bytes. */
async function readBody(request: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of request) {
    bytes += (chunk as Buffer).length;
    if (bytes > limit) throw new QueryRefusedError(413, `the body is over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The address a started server listens on (the port, when 0 was asked for). */
export function httpAddress(server: Server): string {
  const a = server.address();
  if (a === null || typeof a === 'string') return String(a);
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
