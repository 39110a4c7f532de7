/**
 * BlazeDB through its public API (collections, transactions) and its real sync path: a
 * SyncSession over loopback TCP, the same code LAN peers and the relay run. Memory storage, as
 * the anchors keep their state in memory (`BLAZE_COMPARE_STORAGE=sqlite` for durable stores).
 * GC is on: replica a is the database's home relay, and both compact every second what the
 * other has acknowledged (W4).
 */
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { join as joinPath } from 'node:path';
import { socketDuplex } from '../../../node/transport/tcp-duplex.ts';
import { BlazeDB, type Collection, type Fields } from '../../../src/db/index.ts';
import { realScheduler } from '../../../src/platform/index.ts';
import { databaseSource, SyncSession } from '../../../src/sync/index.ts';
import type { BugRecord, Edit, Snapshot } from '../data.ts';
import type { Contact, Contender, History } from './contender.ts';
import { markerId } from './contender.ts';

export function blazedb(): Contender {
  let db: BlazeDB | undefined;
  let bugs: Collection<Fields> | undefined;
  let server: Server | undefined;
  const sessions = new Set<{ session: SyncSession; socket: Socket }>();
  let joined: { session: SyncSession; socket: Socket } | undefined;

  const open = () => {
    if (!bugs) throw new Error('not open');
    return bugs;
  };

  function link(socket: Socket) {
    socket.setNoDelay(true);
    const session = new SyncSession({ source: databaseSource(db as BlazeDB), duplex: socketDuplex(socket), scheduler: realScheduler });
    const entry = { session, socket };
    sessions.add(entry);
    session.onClose(() => sessions.delete(entry));
    session.start();
    return entry;
  }

  return {
    name: 'BlazeDB',
    package: 'blazedb',
    async open(dir, role) {
      const sqlite = process.env.BLAZE_COMPARE_STORAGE === 'sqlite';
      db = await BlazeDB.open({
        ...(sqlite ? { path: joinPath(dir, 'store') } : { storage: 'memory' }),
        dbId: 'compare',
        gc: { authority: role === 'a', intervalMs: 1000 },
      });
      bugs = db.collection('bugs');
      await bugs.declare({ tags: 'set', viewCount: 'counter' });
    },
    async serve(): Promise<Contact> {
      server = createServer(link);
      await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
      return { port: (server.address() as { port: number }).port, info: '' };
    },
    async join(contact) {
      const socket = netConnect(contact.port, '127.0.0.1');
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      joined = link(socket);
    },
    async leave() {
      joined?.session.close();
      joined?.socket.destroy();
      joined = undefined;
    },
    async insert(records: readonly { id: string; record: BugRecord }[]) {
      const c = open();
      for (let i = 0; i < records.length; i += 1000) {
        (db as BlazeDB).transaction(() => {
          for (const { id, record } of records.slice(i, i + 1000)) c.insertNow(record as never, { id });
        });
      }
    },
    async update(id, priority) {
      await open().update(id, { priority });
    },
    async edit(e: Edit) {
      const c = open();
      if (e.kind === 'view') await c.increment(e.id, 'viewCount', 1);
      else if (e.kind === 'tag') await c.add(e.id, 'tags', e.value);
      else await c.update(e.id, { [e.kind]: e.value });
    },
    async setMarker(side, value) {
      const c = open();
      const id = markerId(side);
      if (await c.get(id)) await c.update(id, { done: value });
      else await c.insert({ done: value }, { id });
    },
    async markerValue(side) {
      return (await open().get(markerId(side)))?.done as number | undefined;
    },
    async snapshot(): Promise<Snapshot> {
      const out: Snapshot = new Map();
      for (const { _id, ...fields } of await open().find()) out.set(_id, fields);
      return out;
    },
    async history(): Promise<History> {
      return { value: (db as BlazeDB).stats().opCount, unit: 'ops in the log' };
    },
    async close() {
      for (const { session, socket } of sessions) {
        session.close();
        socket.destroy();
      }
      server?.close();
      await db?.close();
    },
  };
}
