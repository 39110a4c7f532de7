/**
 * Child process of the sync benchmark: opens a SQLite store in argv[2], listens on loopback
 * TCP, runs a sync session per connection, and prints `port N` once listening. For latency
 * runs (--watch) it prints `seen <wall ms> <id>` when its live query sees a record change; with
 * --authority it is the database's home relay for GC.
 */
import { createServer } from 'node:net';
import { socketDuplex } from '../node/transport/tcp-duplex.ts';
import { BlazeDB } from '../src/db/index.ts';
import { realScheduler } from '../src/platform/index.ts';
import { databaseSource, SyncSession } from '../src/sync/index.ts';

// --authority: the database's home relay, deciding the GC frontier every 200 ms.
const authority = process.argv[3] === '--authority';
const db = await BlazeDB.open({
  path: process.argv[2] as string,
  dbId: 'bench',
  ...(authority ? { gc: { authority, intervalMs: 200 } } : {}),
});
if (process.argv[3] === '--watch') {
  db.collection('bugs').subscribe({ probe: { $exists: true } }, (r) => {
    const now = performance.timeOrigin + performance.now();
    for (const rec of [...r.added, ...r.changed]) process.stdout.write(`seen ${now} ${rec.probe}\n`);
  });
}
const server = createServer((socket) => {
  socket.setNoDelay(true);
  new SyncSession({ source: databaseSource(db), duplex: socketDuplex(socket), scheduler: realScheduler }).start();
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`port ${(server.address() as { port: number }).port}\n`);
});
process.on('SIGTERM', async () => {
  server.close();
  await db.close();
  process.exit(0);
});
