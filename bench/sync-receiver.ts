/**
 * Child process of the sync benchmark: opens a SQLite store in argv[2], listens on loopback
 * TCP, runs a sync session per connection, and prints `port N` once listening. For latency
 * runs it prints `seen <wall ms> <id>` when its live query sees a record change.
 */
import { createServer } from 'node:net';
import { socketDuplex } from '../node/transport/tcp-duplex.ts';
import { BlazeDB } from '../src/db/index.ts';
import { realScheduler } from '../src/platform/index.ts';
import { databaseSource, SyncSession } from '../src/sync/index.ts';

const db = await BlazeDB.open({ path: process.argv[2] as string, dbId: 'bench' });
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
