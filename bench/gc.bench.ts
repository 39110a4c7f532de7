/**
 * GC and snapshot figures (docs/gc.md):
 * - gc.compact_ops_per_s: folding stable ops of W1 records into base states and removing them
 *   from a SQLite log, in steps of 5,000 ops (inserts, then an update of every record).
 * - snapshot.initial_sync_s_100k / _1m: a new device (its own SQLite store, this process) syncs
 *   over loopback TCP from a node in another process that holds N W1 records, all compacted, so
 *   it can only start from a snapshot: from connect until its version vector equals the server's.
 * - snapshot.bytes_per_record: bytes the new device received in that sync, per record.
 * Set BENCH_SNAPSHOT_1M=0 to skip the 1M store (its setup takes minutes).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { socketDuplex } from '../node/transport/tcp-duplex.ts';
import { loadScenario } from '../simulations/sim/load.ts';
import type { SimNode } from '../simulations/sim/node.ts';
import { runScenario } from '../simulations/sim/run.ts';
import { declare, writeOne } from '../simulations/sim/workload.ts';
import { BlazeDB } from '../src/db/index.ts';
import { realScheduler } from '../src/platform/index.ts';
import { createPipe, databaseSource, SyncSession } from '../src/sync/index.ts';
import { SeededRandom } from '../src/util/prng.ts';
import type { Benchmark, Figure } from './harness.ts';
import { w1Record } from './workload.ts';

const SERVER = new URL('./sync-receiver.ts', import.meta.url).pathname;
const BATCH = 1000;

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

/** A SQLite store of `n` W1 records, every op compacted; returns its version vector and the compaction rate. */
async function compactedStore(dir: string, n: number, updates: boolean) {
  const db = await BlazeDB.open({ path: dir, dbId: 'bench', random: new SeededRandom(31), gc: { authority: true, intervalMs: 0 } });
  const bugs = db.collection('bugs');
  await bugs.declare({ tags: 'set', viewCount: 'counter' });
  const random = new SeededRandom(32);
  const ids: string[] = [];
  for (let i = 0; i < n; i += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, n - i) }, () => w1Record(random));
    ids.push(...(await bugs.insertMany(batch as never)));
    if (i % 100_000 === 0) process.stderr.write(`  building ${n} records: ${i}\r`);
  }
  if (updates) {
    db.transaction(() => {
      for (const [i, id] of ids.entries()) bugs.updateNow(id, { priority: i % 10 });
    });
  }
  const ops = db.stats().opCount;
  const start = process.hrtime.bigint();
  const result = await db.compact();
  const compactSeconds = seconds(start);
  const version = db.stats().versionVector;
  await db.close();
  process.stderr.write(`  built ${n} records, compacted ${result.removed} of ${ops} ops in ${compactSeconds.toFixed(1)} s\n`);
  return { version, opsPerSecond: result.removed / compactSeconds };
}

async function startServer(dir: string, args: string[] = []): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [SERVER, dir, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited (${code})`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      const match = /port (\d+)/.exec(chunk.toString());
      if (match) resolve({ child, port: Number(match[1]) });
    });
  });
}

/** A new device syncs from the server: seconds until it holds the server's whole vector, and bytes received. */
async function initialSync(serverDir: string, clientDir: string, version: Record<string, number>) {
  const server = await startServer(serverDir);
  const db = await BlazeDB.open({ path: clientDir, dbId: 'bench', random: new SeededRandom(33), gc: { intervalMs: 0 } });
  const caughtUp = () => Object.entries(version).every(([node, seq]) => (db.stats().versionVector[node] ?? 0) >= seq);
  const start = process.hrtime.bigint();
  const socket = connect(server.port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const session = new SyncSession({ source: databaseSource(db), duplex: socketDuplex(socket), scheduler: realScheduler });
  const done = new Promise<void>((resolve) => {
    db.onSnapshotProgress((p) => {
      if (p.done && caughtUp()) resolve();
    });
  });
  session.start();
  await done;
  const elapsed = seconds(start);
  const bytes = socket.bytesRead;
  session.close();
  socket.destroy();
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
  const records = db.stats().collections.bugs ?? 0;
  await db.close();
  return { elapsed, bytes, records };
}

async function figuresFor(n: number, label: string): Promise<{ figures: Figure[]; opsPerSecond: number }> {
  const serverDir = mkdtempSync(join(tmpdir(), 'blaze-gc-bench-'));
  const clientDir = mkdtempSync(join(tmpdir(), 'blaze-gc-client-'));
  try {
    const { version, opsPerSecond } = await compactedStore(serverDir, n, n <= 100_000);
    const { elapsed, bytes, records } = await initialSync(serverDir, clientDir, version);
    if (records !== n) throw new Error(`the new device holds ${records} of ${n} records`);
    return {
      opsPerSecond,
      figures: [
        { name: `snapshot.initial_sync_s_${label}`, value: round(elapsed, 3), unit: `s (${n} W1 records, loopback TCP, durable)` },
        ...(n <= 100_000
          ? [{ name: 'snapshot.bytes_per_record', value: round(bytes / n, 1), unit: `bytes received per record (${label})` }]
          : []),
      ],
    };
  } finally {
    rmSync(serverDir, { recursive: true, force: true });
    rmSync(clientDir, { recursive: true, force: true });
  }
}

/** The 100k run feeds both benchmarks: built once when both are selected. */
let small: Promise<{ figures: Figure[]; opsPerSecond: number }> | undefined;
const smallRun = () => {
  small ??= figuresFor(100_000, '100k');
  return small;
};

const CLIENT = new URL('./gc-client.ts', import.meta.url).pathname;

/** Runs a gc-client.ts child until it prints its memory; returns RSS and live heap in bytes, and kills it. */
async function clientRss(args: string[]): Promise<{ rss: number; heap: number }> {
  const child = spawn(process.execPath, ['--expose-gc', CLIENT, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const rss = await new Promise<{ rss: number; heap: number }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`client exited (${code})`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      const match = /rss (\d+) heap (\d+)/.exec(chunk.toString());
      if (match) resolve({ rss: Number(match[1]), heap: Number(match[2]) });
    });
  });
  child.removeAllListeners('exit');
  child.kill('SIGKILL');
  return rss;
}

/**
 * Client memory: the resident memory of a real client process that synced the scaled year's
 * workload (20 users x 150 ops) over loopback TCP with GC on (its home relay in another
 * process), minus the same process with the same store and no sync at all. Median of 3.
 */
export async function clientMemoryDelta(): Promise<Figure[]> {
  const relayDir = mkdtempSync(join(tmpdir(), 'blaze-gc-relay-'));
  const clientDirs: string[] = [];
  try {
    const relay = await BlazeDB.open({ path: relayDir, dbId: 'bench', random: new SeededRandom(41), gc: { intervalMs: 0 } });
    const workload = { opsPerPeer: 150, records: 400, hotShare: 0.3, perPeer: {} };
    const random = new SeededRandom(42);
    let total = 0;
    for (let user = 0; user < 20; user++) {
      const device = await BlazeDB.open({ storage: 'memory', dbId: 'bench', random: new SeededRandom(100 + user), gc: { intervalMs: 0 } });
      declare(device);
      for (let i = 0; i < workload.opsPerPeer; i++) writeOne(device, random, workload, `u${user}`);
      total += device.stats().opCount;
      const [a, b] = createPipe();
      new SyncSession({ source: databaseSource(device), duplex: a }).start();
      new SyncSession({ source: databaseSource(relay), duplex: b, role: 'relay' }).start();
      while (device.acks.all()[0]?.version.get(device.nodeId) !== device.stats().versionVector[device.nodeId]) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      await device.close();
    }
    await relay.close();
    const deltas: number[] = [];
    const heapDeltas: number[] = [];
    for (let run = 0; run < 3; run++) {
      const clientDir = mkdtempSync(join(tmpdir(), 'blaze-gc-client-'));
      clientDirs.push(clientDir);
      const server = await startServer(relayDir, ['--authority']);
      const synced = await clientRss(['sync', clientDir, String(server.port), String(total)]);
      server.child.kill('SIGTERM');
      const local = await clientRss(['local', clientDir]);
      deltas.push(synced.rss - local.rss);
      heapDeltas.push(synced.heap - local.heap);
    }
    const median = (xs: number[]) => (xs.sort((a, b) => a - b)[1] as number) / 1048576;
    const runs = deltas.map((d) => (d / 1048576).toFixed(1)).join(', ');
    return [
      {
        name: 'gc.client_memory_delta_mb',
        value: round(median(deltas), 1),
        unit: `MB RSS, sync + GC on minus off (TCP session, ${total} ops; runs ${runs})`,
      },
      {
        name: 'gc.client_heap_delta_mb',
        value: round(median(heapDeltas), 1),
        unit: 'MB live JS heap + external, same processes, after a full GC',
      },
    ];
  } finally {
    rmSync(relayDir, { recursive: true, force: true });
    for (const dir of clientDirs) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * What a client keeps for sync and GC after the scaled year (20 users x 30 days, daily syncs):
 * per-peer acknowledged vectors, members, the GC announcement, the horizon and its version
 * vector, in bytes as stored (keys included). The largest over the peers.
 */
function clientSyncStateBytes(): Figure {
  const nodes: SimNode[] = [];
  const r = runScenario(loadScenario('year-scaled'), 7, { tamper: (node) => nodes.push(node) });
  if (r.violations.length > 0) throw new Error(`year-scaled: ${r.violations[0]?.invariant}: ${r.violations[0]?.detail}`);
  let largest = 0;
  for (const node of new Set(nodes)) {
    if (node.role !== 'peer') continue;
    let bytes = 0;
    for (const prefix of ['ack', 'gc_']) for (const [key, value] of node.storage.scanMeta(prefix)) bytes += key.length + value.length;
    for (const [origin, row] of node.storage.loadVersions()) bytes += origin.length + 8 + row.ahead.length * 8;
    largest = Math.max(largest, bytes);
  }
  return {
    name: 'gc.client_sync_state_bytes',
    value: largest,
    unit: 'bytes (acks, members, announcement, horizon, version vector; scaled year, 21 members)',
  };
}

export const gcBenchmark: Benchmark = {
  prefix: 'gc.',
  async run() {
    const { opsPerSecond } = await smallRun();
    return [
      clientSyncStateBytes(),
      ...(await clientMemoryDelta()),
      { name: 'gc.compact_ops_per_s', value: Math.round(opsPerSecond), unit: 'ops/s (W1 inserts + updates, SQLite, steps of 5,000)' },
    ];
  },
};

export const snapshotBenchmark: Benchmark = {
  prefix: 'snapshot.',
  async run() {
    const figures = [...(await smallRun()).figures];
    if (process.env.BENCH_SNAPSHOT_1M !== '0') figures.push(...(await figuresFor(1_000_000, '1m')).figures);
    return figures;
  },
};
