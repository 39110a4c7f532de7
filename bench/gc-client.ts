/**
 * Child process of the client-memory figure (gc.bench.ts). `sync`: opens the store in argv[3],
 * syncs with the node at port argv[4] over loopback TCP until it holds `argv[5]` ops of every
 * origin it hears of, compacts, and stays connected; `local`: opens the same store with no
 * sync at all and reads every record. Either way it then prints `rss <bytes>` after a GC.
 */
import { connect } from 'node:net';
import { socketDuplex } from '../node/transport/tcp-duplex.ts';
import { BlazeDB } from '../src/db/index.ts';
import { realScheduler } from '../src/platform/index.ts';
import { databaseSource, SyncSession } from '../src/sync/index.ts';

const [mode, path, port, expected] = process.argv.slice(2);
const db = await BlazeDB.open({ path: path as string, dbId: 'bench', gc: { intervalMs: 0 } });
if (mode === 'sync') {
  const socket = connect(Number(port), '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  new SyncSession({ source: databaseSource(db), duplex: socketDuplex(socket), scheduler: realScheduler }).start();
  const total = Number(expected);
  while (Object.values(db.stats().versionVector).reduce((a, b) => a + b, 0) < total) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 500)); // the announcement and last ACKs
  await db.compact();
}
await db.collection('items').find({});
globalThis.gc?.();
await new Promise((r) => setTimeout(r, 100));
const memory = process.memoryUsage();
process.stdout.write(`rss ${memory.rss} heap ${memory.heapUsed + memory.external}\n`);
await new Promise((r) => setTimeout(r, 60_000));
