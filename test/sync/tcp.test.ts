import assert from 'node:assert/strict';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
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

  it('should relay A - B - C over sockets and recover when the B - C connection drops mid-stream', async () => {
    const dbs = await Promise.all(
      [1, 2, 3].map((i) => BlazeDB.open({ storage: 'memory', dbId: 'chain', random: new SeededRandom(10 + i) })),
    );
    const [a, b, c] = dbs as [BlazeDB, BlazeDB, BlazeDB];
    const servers = [b, c].map((db) =>
      createServer((socket) => {
        new SyncSession({ source: databaseSource(db), duplex: socketDuplex(socket), batchOps: 50 }).start();
      }),
    );
    for (const server of servers) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const portOf = (i: number) => ((servers[i] as Server).address() as { port: number }).port;
    const dial = async (db: BlazeDB, port: number) => {
      const socket = tcpConnect(port, '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      const session = new SyncSession({ source: databaseSource(db), duplex: socketDuplex(socket), batchOps: 50 });
      session.start();
      return socket;
    };
    const sockets: Socket[] = [];
    try {
      sockets.push(await dial(a, portOf(0)));
      const bc = await dial(b, portOf(1));
      sockets.push(bc);
      await a.collection('bugs').insertMany(Array.from({ length: 2000 }, (_, i) => ({ i })));
      await waitFor(async () => (await c.collection('bugs').count()) > 0, 'the first records at C');
      bc.destroy(); // drop B - C mid-stream
      sockets.push(await dial(b, portOf(1)));
      await waitFor(async () => (await c.collection('bugs').count()) === 2000, 'everything at C after the reconnect');
      assert.equal(c.stats().opCount, 2000);
    } finally {
      for (const s of sockets) s.destroy();
      for (const server of servers) await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const db of dbs) await db.close();
    }
  });

  it('should serve a partial replica over a socket: records entering and leaving its filter', async () => {
    const server = await BlazeDB.open({ storage: 'memory', dbId: 'tcp', random: new SeededRandom(21) });
    const phone = await BlazeDB.open({ storage: 'memory', dbId: 'tcp', random: new SeededRandom(22) });
    await server.collection('bugs').declare({ votes: 'counter' });
    await server
      .collection('bugs')
      .insertMany(Array.from({ length: 400 }, (_, i) => ({ title: `bug ${i}`, owner: i % 4 === 0 ? 'ann' : 'bob', votes: i })));
    await phone.setSyncFilter({ collections: { bugs: { where: { owner: 'ann' } } } });
    const listener = createServer((socket) => {
      new SyncSession({ source: databaseSource(server), duplex: socketDuplex(socket), batchOps: 64 }).start();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const socket = tcpConnect((listener.address() as { port: number }).port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const session = new SyncSession({ source: databaseSource(phone), duplex: socketDuplex(socket), batchOps: 64 });
    session.start();
    const anns = async () => (await server.collection('bugs').find({ owner: 'ann' }, { sort: { title: 1 } })).map((r) => ({ ...r }));
    const mine = async () => (await phone.collection('bugs').find({}, { sort: { title: 1 } })).map((r) => ({ ...r }));
    try {
      await waitFor(async () => (await phone.collection('bugs').count()) === 100, 'the partial initial sync');
      const [entering] = await server.collection('bugs').find({ title: 'bug 1' });
      const [leaving] = await server.collection('bugs').find({ title: 'bug 0' });
      await server.collection('bugs').increment(entering?._id as string, 'votes', 5);
      await server.collection('bugs').update(entering?._id as string, { owner: 'ann' });
      await server.collection('bugs').update(leaving?._id as string, { owner: 'bob' });
      await waitFor(async () => JSON.stringify(await mine()) === JSON.stringify(await anns()), 'entering and leaving');
      assert.equal((await phone.collection('bugs').get(entering?._id as string))?.votes, 6);
      assert.deepEqual(phone.stats().versionVector, server.stats().versionVector);
      assert.equal(session.state, 'syncing');
    } finally {
      session.close();
      socket.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
      await server.close();
      await phone.close();
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
