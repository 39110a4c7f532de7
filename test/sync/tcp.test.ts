import assert from 'node:assert/strict';
import { createServer, type Socket, connect as tcpConnect } from 'node:net';
import { describe, it } from 'node:test';
import { socketDuplex } from '../../node/transport/tcp-duplex.ts';
import { BlazeDB } from '../../src/db/index.ts';
import { databaseSource, SyncSession } from '../../src/sync/index.ts';
import { SeededRandom } from '../../src/util/prng.ts';

async function waitFor(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('sync over loopback TCP', () => {
  it('should sync two databases both ways over a socket, in batches larger than one TCP segment', async () => {
    const a = await BlazeDB.open({ storage: 'memory', dbId: 'tcp', random: new SeededRandom(1) });
    const b = await BlazeDB.open({ storage: 'memory', dbId: 'tcp', random: new SeededRandom(2) });
    await a.collection('bugs').insertMany(Array.from({ length: 3000 }, (_, i) => ({ i, title: `bug ${i}`, body: 'x'.repeat(50) })));
    const server = createServer((socket) => {
      new SyncSession({ source: databaseSource(b), duplex: socketDuplex(socket) }).start();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const socket: Socket = tcpConnect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const session = new SyncSession({ source: databaseSource(a), duplex: socketDuplex(socket) });
    session.start();
    try {
      await waitFor(async () => (await b.collection('bugs').count()) === 3000, 'the initial sync');
      await b.collection('bugs').insert({ i: -1 }, { id: 'from-b' });
      await waitFor(async () => (await a.collection('bugs').get('from-b')) !== undefined, 'the live push back');
      assert.equal(session.state, 'syncing');
    } finally {
      session.close();
      socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await a.close();
      await b.close();
    }
  });

  it('should drop a connection whose length prefix claims more than the frame limit', async () => {
    const server = createServer();
    const closed = new Promise<void>((resolve) => {
      server.on('connection', (socket) => {
        socketDuplex(socket, { maxFrameBytes: 1024 });
        socket.on('close', () => resolve());
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const client = tcpConnect(port, '127.0.0.1');
    await new Promise<void>((resolve) => client.once('connect', resolve));
    client.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]));
    await closed;
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
