/**
 * PouchDB 9 with the memory adapter: a document per record (tags an array, viewCount a number,
 * since PouchDB has neither sets nor counters), each update a get and a put of the whole
 * document. Synced as PouchDB's docs recommend, by live two-way replication (`PouchDB.sync`)
 * with a CouchDB-compatible HTTP endpoint: replica a serves its database with express-pouchdb.
 */
import type { Server } from 'node:http';
import expressPouchdb from 'express-pouchdb';
import adapterHttp from 'pouchdb-adapter-http';
import adapterMemory from 'pouchdb-adapter-memory';
import PouchDB from 'pouchdb-core';
import mapreduce from 'pouchdb-mapreduce';
import replication from 'pouchdb-replication';
import type { BugRecord, Edit, Snapshot } from '../data.ts';
import type { Contact, Contender, History } from './contender.ts';
import { editDocument, markerId } from './contender.ts';

PouchDB.plugin(adapterMemory).plugin(adapterHttp).plugin(replication).plugin(mapreduce);
const MemoryPouch = PouchDB.defaults({ adapter: 'memory' });

type Doc = Record<string, unknown> & { _id: string; _rev?: string };

export function pouchdb(): Contender {
  let db: PouchDB.Database | undefined;
  let server: Server | undefined;
  let replicating: { cancel(): void } | undefined;

  const open = () => {
    if (!db) throw new Error('not open');
    return db;
  };

  async function change(id: string, fn: (doc: Doc) => void): Promise<void> {
    const doc = (await open().get(id)) as Doc;
    fn(doc);
    await open().put(doc);
  }

  async function getOrUndefined(id: string): Promise<Doc | undefined> {
    try {
      return (await open().get(id)) as Doc;
    } catch (err) {
      if ((err as { status?: number }).status === 404) return undefined;
      throw err;
    }
  }

  return {
    name: 'PouchDB',
    package: 'pouchdb-core',
    async open() {
      db = new MemoryPouch('bugs');
    },
    async serve(): Promise<Contact> {
      const app = expressPouchdb(MemoryPouch, { mode: 'minimumForPouchDB', inMemoryConfig: true, logPath: '/dev/null' });
      server = app.listen(0, '127.0.0.1') as Server;
      await new Promise<void>((resolve) => server?.once('listening', resolve));
      return { port: (server.address() as { port: number }).port, info: 'bugs' };
    },
    async join(contact) {
      replicating = PouchDB.sync(open(), `http://127.0.0.1:${contact.port}/${contact.info}`, { live: true, retry: true });
    },
    async leave() {
      replicating?.cancel();
      replicating = undefined;
    },
    async insert(records: readonly { id: string; record: BugRecord }[]) {
      for (let i = 0; i < records.length; i += 1000) {
        await open().bulkDocs(records.slice(i, i + 1000).map(({ id, record }) => ({ _id: id, ...record })));
      }
    },
    async update(id, priority) {
      await change(id, (doc) => {
        doc.priority = priority;
      });
    },
    async edit(e: Edit) {
      await change(e.id, (doc) => editDocument(doc, e));
    },
    async setMarker(side, value) {
      const id = markerId(side);
      const doc = (await getOrUndefined(id)) ?? { _id: id };
      doc.done = value;
      await open().put(doc);
    },
    async markerValue(side) {
      return (await getOrUndefined(markerId(side)))?.done as number | undefined;
    },
    async snapshot(): Promise<Snapshot> {
      const out: Snapshot = new Map();
      const all = await open().allDocs({ include_docs: true });
      for (const row of all.rows) {
        const { _id, _rev, ...fields } = row.doc as Doc;
        out.set(_id, fields);
      }
      return out;
    },
    async history(): Promise<History> {
      return { value: Number((await open().info()).update_seq), unit: 'changes in the log (update_seq)' };
    },
    async close() {
      replicating?.cancel();
      server?.close();
      await db?.close();
    },
  };
}
