/**
 * A mesh peer in its own process, driven over stdin/stdout in JSON lines (tests that put peers
 * in network namespaces, and the mesh benchmark). argv[2]: {"dbId", "mesh": MeshOptions,
 * "path"?: store directory (default: in memory)}. Prints {"event":"ready","peerId","addresses"},
 * then every mesh event as {"event", ...}. Reads commands {"id", "cmd", ...} and answers
 * {"reply": id, "result"}; see COMMANDS.
 */
import { BlazeDB } from '../../node/index.ts';
import { type MeshOptions, MeshPeer } from '../../node/mesh/mesh-peer.ts';
import { type Command, serveCommands, watchProbes, writeProbes } from './probes.ts';

const config = JSON.parse(process.argv[2] as string) as { dbId: string; mesh: MeshOptions; path?: string };
const db = await BlazeDB.open(config.path ? { path: config.path, dbId: config.dbId } : { storage: 'memory', dbId: config.dbId });
const mesh = (await db.enableSync({ ...config.mesh, network: (d, o) => MeshPeer.start(d, o as MeshOptions) })) as MeshPeer;
const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
print({ event: 'ready', peerId: mesh.peerId, addresses: mesh.addresses });
mesh.on('state', (state) => print({ event: 'state', state }));
mesh.on('peer:found', (e) => print({ event: 'found', ...e }));
mesh.on('peer:connected', (e) => print({ event: 'connected', ...e }));
mesh.on('peer:disconnected', (e) => print({ event: 'disconnected', ...e }));

const text = (v: unknown) => v as string;

const COMMANDS: Record<string, (c: Command) => Promise<unknown>> = {
  insert: (c) => db.collection(text(c.collection)).insert((c.fields ?? {}) as never),
  get: async (c) => (await db.collection(text(c.collection)).get(text(c.recordId))) ?? null,
  version: async () => db.stats().versionVector,
  count: (c) => db.collection(text(c.collection)).count((c.where ?? {}) as never),
  /** Inserts `count` records in transactions of `batch`. */
  insertMany: async (c) => {
    const bugs = db.collection(text(c.collection));
    for (let done = 0; done < (c.count as number); done += c.batch as number) {
      const n = Math.min(c.batch as number, (c.count as number) - done);
      await bugs.insertMany(Array.from({ length: n }, (_, i) => ({ n: done + i, title: `record ${done + i}` })));
    }
    return db.stats().versionVector;
  },
  /**
   * Inserts `count` records, `batch` at a time, each batch awaited relay-durable; prints
   * {"event":"durable","n"} with the records acknowledged so far (a relay crash test's ledger).
   */
  writeDurably: async (c) => {
    const bugs = db.collection(text(c.collection));
    for (let done = 0; done < (c.count as number); ) {
      const n = Math.min(c.batch as number, (c.count as number) - done);
      await bugs.insertMany(Array.from({ length: n }, (_, i) => ({ writer: text(c.writer), n: done + i })));
      await db.synced('relay-durable');
      done += n;
      print({ event: 'durable', writer: c.writer, n: done });
    }
    return c.count;
  },
  /** Prints {"event":"seen","probe","at"} whenever a record's `probe` field changes here. */
  watch: async (c) => {
    watchProbes(db.collection(text(c.collection)), print);
    return true;
  },
  /** Sets `probe` on one record `count` times, `intervalMs` apart; returns [value, resolved at]. */
  probe: (c) => writeProbes(db.collection(text(c.collection)), c.count as number, c.intervalMs as number),
  /** Traffic of every open session, summed. */
  stats: async () => {
    const sum = { bytesSent: 0, bytesReceived: 0, opsReceived: 0, duplicateOpsReceived: 0, duplicateBytesReceived: 0 };
    for (const { session } of mesh.sessions()) for (const k of Object.keys(sum) as (keyof typeof sum)[]) sum[k] += session.stats[k];
    return sum;
  },
  addresses: async () => mesh.addresses,
  /** Open connections: remote peer and address (a /webrtc one is a direct WebRTC connection). */
  connections: async () => mesh.libp2p.getConnections().map((c) => ({ peer: c.remotePeer.toString(), address: c.remoteAddr.toString() })),
  /** The remote address of the connection each syncing session runs on. */
  sessionAddresses: async () =>
    mesh
      .sessions()
      .filter(({ session }) => session.state === 'syncing')
      .map(({ peer }) => ({
        peer,
        addresses: mesh.libp2p
          .getConnections()
          .filter((c) => c.remotePeer.toString() === peer)
          .map((c) => c.remoteAddr.toString()),
      })),
  rss: async () => {
    (globalThis as { gc?: () => void }).gc?.();
    return process.memoryUsage().rss;
  },
  cpu: async () => process.cpuUsage(),
};

await serveCommands(COMMANDS, print);
await db.close();
