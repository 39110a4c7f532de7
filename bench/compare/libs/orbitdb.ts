/**
 * OrbitDB 4 (the closest anchor: it syncs over libp2p too): a `documents` database open to
 * every writer, a document per record, each update a get and a put of the whole document.
 * Each replica runs a Helia node on libp2p (TCP, Noise, Yamux, gossipsub, identify) built from
 * Helia's light parts so nothing dials the public IPFS network; replica b does not listen, so
 * all traffic goes through the one connection b dials (and the comparison's byte counter).
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { withBitswap } from '@helia/bitswap';
import { withLibp2pLight } from '@helia/libp2p';
import * as dagCbor from '@ipld/dag-cbor';
import { gossipsub } from '@libp2p/gossipsub';
import { identify } from '@libp2p/identify';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createOrbitDB, IPFSAccessController, type OrbitDB, type OrbitDocuments } from '@orbitdb/core';
import { MemoryBlockstore } from 'blockstore-core';
import { MemoryDatastore } from 'datastore-core';
import { createHeliaLight } from 'helia';
import type { BugRecord, Edit, Snapshot } from '../data.ts';
import type { Contact, Contender, History } from './contender.ts';
import { editDocument, markerId } from './contender.ts';

type Doc = Record<string, unknown>;
type Node = ReturnType<typeof createHeliaLight>;

export function orbitdb(): Contender {
  let helia: Node | undefined;
  let orbit: OrbitDB | undefined;
  let db: OrbitDocuments | undefined;
  let peer: string | undefined;

  const open = () => {
    if (!db) throw new Error('not open');
    return db;
  };
  const libp2p = () =>
    (
      helia as unknown as {
        libp2p: {
          getMultiaddrs(): { toString(): string }[];
          peerId: { toString(): string };
          dial(a: unknown): Promise<unknown>;
          hangUp(a: unknown): Promise<void>;
        };
      }
    ).libp2p;

  async function change(id: string, fn: (doc: Doc) => void): Promise<void> {
    const found = await open().get(id);
    if (!found) throw new Error(`no record ${id}`);
    const doc = { ...found.value };
    fn(doc);
    await open().put(doc);
  }

  return {
    name: 'OrbitDB',
    package: '@orbitdb/core',
    async open(dir, role) {
      helia = withBitswap(
        withLibp2pLight(createHeliaLight({ blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore(), codecs: [dagCbor] }), {
          addresses: { listen: role === 'a' ? ['/ip4/127.0.0.1/tcp/0'] : [] },
          transports: [tcp()],
          connectionEncrypters: [noise()],
          streamMuxers: [yamux()],
          services: { identify: identify(), pubsub: gossipsub({ allowPublishToZeroTopicPeers: true }) },
        }),
      );
      await helia.start();
      orbit = await createOrbitDB({ ipfs: helia, directory: dir });
      if (role === 'a') db = await orbit.open('bugs', { type: 'documents', AccessController: IPFSAccessController({ write: ['*'] }) });
    },
    async serve(): Promise<Contact> {
      const address = libp2p().getMultiaddrs()[0]?.toString() ?? '';
      const port = Number(/\/tcp\/(\d+)/.exec(address)?.[1]);
      return { port, info: JSON.stringify({ peer: libp2p().peerId.toString(), db: open().address }) };
    },
    async join(contact) {
      const info = JSON.parse(contact.info) as { peer: string; db: string };
      peer = `/ip4/127.0.0.1/tcp/${contact.port}/p2p/${info.peer}`;
      await libp2p().dial(multiaddr(peer));
      db ??= await (orbit as OrbitDB).open(info.db);
    },
    async leave() {
      if (peer) await libp2p().hangUp(multiaddr(peer));
    },
    async insert(records: readonly { id: string; record: BugRecord }[]) {
      for (const { id, record } of records) await open().put({ _id: id, ...record });
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
      await open().put({ _id: markerId(side), done: value });
    },
    async markerValue(side) {
      if (!db) return undefined;
      return (await db.get(markerId(side)))?.value.done as number | undefined;
    },
    async snapshot(): Promise<Snapshot> {
      const out: Snapshot = new Map();
      for (const { key, value } of await open().all()) {
        const { _id, ...fields } = value;
        out.set(key, fields);
      }
      return out;
    },
    async history(): Promise<History> {
      return { value: (await open().log.values()).length, unit: 'entries in the log' };
    },
    async close() {
      await db?.close();
      await orbit?.stop();
      await helia?.stop();
    },
  };
}
