/**
 * A load process for the relay benchmarks and load test: many mesh peers (in-memory stores,
 * one libp2p host each) in one process, all syncing with one relay. Driven over stdin/stdout in
 * JSON lines like test/helpers/peer-process.ts.
 *
 * argv[2]: {"relay", "dbId", "tokens": [one per peer], "own"?: each peer syncs only its own
 * records (a selective-sync filter on `owner`), "ackIntervalMs"?}
 * Prints {"event":"ready"} once every peer is in sync with the relay, then answers commands.
 */
import { randomBytes } from 'node:crypto';
import { BlazeDB } from '../node/index.ts';
import { MeshPeer } from '../node/mesh/mesh-peer.ts';
import { type Command, serveCommands, wallMs, watchProbes, writeProbes } from '../test/helpers/probes.ts';

interface Config {
  relay: string;
  dbId: string;
  tokens: string[];
  own?: boolean;
  ackIntervalMs?: number;
}

const config = JSON.parse(process.argv[2] as string) as Config;
const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

interface Peer {
  db: BlazeDB;
  mesh: MeshPeer;
  owner: string;
}

async function startPeer(token: string, index: number): Promise<Peer> {
  const owner = `${process.pid}-${index}`;
  const db = await BlazeDB.open({ storage: 'memory', dbId: config.dbId });
  // Own records only; peer 0 also the probes record (latency probes between processes' peer 0s).
  if (config.own) await db.setSyncFilter({ collections: { bugs: { where: { owner } }, ...(index === 0 ? { probes: {} } : {}) } });
  const mesh = await MeshPeer.start(db, {
    relay: config.relay,
    token,
    listen: [],
    backoffBaseMs: 200,
    backoffCapMs: 5_000,
    ...(config.ackIntervalMs !== undefined ? { ackIntervalMs: config.ackIntervalMs } : {}),
  });
  await new Promise<void>((resolve) => {
    if (mesh.state === 'live') resolve();
    const off = mesh.on('state', (s) => {
      if (s === 'live') {
        off();
        resolve();
      }
    });
  });
  return { db, mesh, owner };
}

// Started a few at a time: a hundred handshakes at once would measure the relay's start-up.
const peers: Peer[] = [];
for (let i = 0; i < config.tokens.length; i += 10) {
  peers.push(...(await Promise.all(config.tokens.slice(i, i + 10).map((t, j) => startPeer(t, i + j)))));
  if (process.env.RELAY_LOAD_DEBUG) process.stderr.write(`load ${process.pid}: ${peers.length} live\n`);
}
print({ event: 'ready', peers: peers.length });

const COMMANDS: Record<string, (c: Command) => Promise<unknown>> = {
  /** The first `writers` peers (default all) each insert `count` records in transactions of `batch`, then wait relay-durable. */
  write: async (c) => {
    const writers = peers.slice(0, (c.writers as number | undefined) ?? peers.length);
    const startedAt = wallMs();
    await Promise.all(
      writers.map(async (p) => {
        const bugs = p.db.collection('bugs');
        for (let done = 0; done < (c.count as number); done += c.batch as number) {
          const n = Math.min(c.batch as number, (c.count as number) - done);
          await bugs.insertMany(Array.from({ length: n }, (_, i) => ({ owner: p.owner, n: done + i, title: `record ${done + i}` })));
        }
        if (process.env.RELAY_LOAD_DEBUG) process.stderr.write(`load ${process.pid}: ${p.owner} wrote, waiting\n`);
        await p.db.synced('relay-durable');
        if (process.env.RELAY_LOAD_DEBUG) process.stderr.write(`load ${process.pid}: ${p.owner} durable\n`);
      }),
    );
    return { startedAt, doneAt: wallMs() };
  },
  /**
   * A steady load: every peer inserts one record every `intervalMs` (starts spread over the
   * first interval) until `durationMs` has passed; returns how many records were written.
   */
  steady: async (c) => {
    const interval = c.intervalMs as number;
    const until = Date.now() + (c.durationMs as number);
    const counts = await Promise.all(
      peers.map(async (p, i) => {
        await new Promise((r) => setTimeout(r, (interval * i) / peers.length));
        let written = 0;
        while (Date.now() < until) {
          await p.db.collection('bugs').insert({ owner: p.owner, n: written, title: `steady ${written}` });
          written++;
          await new Promise((r) => setTimeout(r, interval));
        }
        return written;
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  },
  /** Peer 0 inserts `count` records of `bytes` random bytes each into 'blobs' (bulk for full replicas to catch up on). */
  bulk: async (c) => {
    const blobs = (peers[0] as Peer).db.collection('blobs');
    for (let i = 0; i < (c.count as number); i += 50)
      await blobs.insertMany(
        Array.from({ length: Math.min(50, (c.count as number) - i) }, () => ({ data: randomBytes(c.bytes as number) })),
      );
    await (peers[0] as Peer).db.synced('relay-durable');
    return true;
  },
  /** Waits until every peer's writes are relay-durable (at most `timeoutMs`); returns how many peers got there. */
  durable: async (c) => {
    const signal = AbortSignal.timeout((c.timeoutMs as number | undefined) ?? 60_000);
    const done = await Promise.allSettled(peers.map((p) => p.db.synced('relay-durable', { signal })));
    return done.filter((d) => d.status === 'fulfilled').length;
  },
  /** Resolves when every peer holds at least `n` records; returns when the last got there. */
  waitCount: async (c) => {
    const deadline = Date.now() + ((c.timeoutMs as number | undefined) ?? 120_000);
    for (;;) {
      const counts = await Promise.all(peers.map((p) => p.db.collection('bugs').count()));
      if (counts.every((k) => k >= (c.n as number))) return { at: wallMs(), min: Math.min(...counts) };
      if (Date.now() > deadline) return { at: null, min: Math.min(...counts) };
      await new Promise((r) => setTimeout(r, 5));
    }
  },
  /** Peer 0 prints {"event":"seen","probe","at"} whenever a record's `probe` changes there. */
  watch: async () => {
    watchProbes((peers[0] as Peer).db.collection('probes'), print);
    return true;
  },
  /** Peer 0 sets `probe` on one record `count` times, `intervalMs` apart; returns [value, resolved at]. */
  probe: (c) => writeProbes((peers[0] as Peer).db.collection('probes'), c.count as number, c.intervalMs as number),
  /** How many peers are live now. */
  live: async () => peers.filter((p) => p.mesh.state === 'live').length,
  rss: async () => process.memoryUsage().rss,
};

await serveCommands(COMMANDS, print);
await Promise.all(peers.map(async (p) => p.mesh.stop().then(() => p.db.close())));
