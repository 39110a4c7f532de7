/**
 * Sync figures: two processes over loopback TCP, W2 (10k records, 100k single-field updates
 * of `priority`, each its own transaction). The writer keeps its store in memory; the receiver
 * (bench/sync-receiver.ts) applies every op durably to SQLite and acknowledges.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { socketDuplex } from '../node/transport/tcp-duplex.ts';
import { BlazeDB } from '../src/db/index.ts';
import { realScheduler } from '../src/platform/index.ts';
import { databaseSource, SyncSession } from '../src/sync/index.ts';
import { SeededRandom } from '../src/util/prng.ts';
import type { Benchmark, Figure } from './harness.ts';

const RECORDS = 10_000;
const UPDATES = Number(process.env.BENCH_SYNC_UPDATES ?? 100_000);
const RECEIVER = new URL('./sync-receiver.ts', import.meta.url).pathname;

interface Receiver {
  child: ChildProcess;
  port: number;
  lines: string[];
  onLine: ((line: string) => void) | undefined;
}

async function startReceiver(dir: string, watch: boolean): Promise<Receiver> {
  const child = spawn(process.execPath, [RECEIVER, dir, ...(watch ? ['--watch'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  const receiver: Receiver = { child, port: 0, lines: [], onLine: undefined };
  let buffered = '';
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`receiver exited (${code})`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('port ')) {
          receiver.port = Number(line.slice(5));
          resolve(receiver);
        } else {
          receiver.onLine?.(line);
        }
      }
    });
  });
}

async function stopReceiver(r: Receiver): Promise<void> {
  const exited = new Promise((resolve) => r.child.once('exit', resolve));
  r.child.kill('SIGTERM');
  await exited;
}

/** Connects `db` to the receiver; resolves with the session and its socket once syncing. */
async function link(db: BlazeDB, port: number): Promise<{ session: SyncSession; socket: Socket }> {
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const session = new SyncSession({ source: databaseSource(db), duplex: socketDuplex(socket), scheduler: realScheduler });
  session.start();
  return { session, socket };
}

/** Resolves when the peer has acknowledged holding `seq` of `node`. */
function acked(session: SyncSession, node: string, seq: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => (session.peerAck?.version.get(node as never) ?? 0) >= seq;
    if (done()) return resolve();
    const stop = session.onAck(() => {
      if (!done()) return;
      stop();
      resolve();
    });
  });
}

async function writer(): Promise<{ db: BlazeDB; ids: string[] }> {
  const db = await BlazeDB.open({ storage: 'memory', dbId: 'bench', random: new SeededRandom(21) });
  const bugs = db.collection('bugs');
  const ids = await bugs.insertMany(Array.from({ length: RECORDS }, (_, i) => ({ title: `Bug ${i}`, priority: i % 10, status: 'open' })));
  return { db, ids };
}

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;

async function throughputAndCatchup(): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'blaze-sync-bench-'));
  const random = new SeededRandom(22);
  try {
    const { db, ids } = await writer();
    const bugs = db.collection('bugs');
    let receiver = await startReceiver(dir, false);
    let { session, socket } = await link(db, receiver.port);
    await acked(session, db.nodeId, RECORDS);
    const bytesBefore = socket.bytesRead + socket.bytesWritten;
    const start = process.hrtime.bigint();
    for (let i = 0; i < UPDATES; i++) {
      bugs.updateNow(ids[random.int(RECORDS)] as string, { priority: random.int(10) });
      if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve)); // let frames go out
    }
    await acked(session, db.nodeId, RECORDS + UPDATES);
    const syncSeconds = seconds(start);
    const wireBytes = socket.bytesRead + socket.bytesWritten - bytesBefore;
    session.close();
    socket.destroy();
    await stopReceiver(receiver);

    // Catch-up: the receiver was away while 100k more updates happened.
    for (let i = 0; i < UPDATES; i++) bugs.updateNow(ids[random.int(RECORDS)] as string, { priority: random.int(10) });
    receiver = await startReceiver(dir, false);
    const catchupStart = process.hrtime.bigint();
    ({ session, socket } = await link(db, receiver.port));
    await acked(session, db.nodeId, RECORDS + 2 * UPDATES);
    const catchupSeconds = seconds(catchupStart);
    session.close();
    socket.destroy();
    await stopReceiver(receiver);
    await db.close();
    return [
      { name: 'sync.ops_per_s', value: Math.round(UPDATES / syncSeconds), unit: `ops/s (${UPDATES} updates, receiver durable)` },
      { name: 'sync.wire_bytes_per_op', value: Math.round((wireBytes / UPDATES) * 100) / 100, unit: 'bytes (both directions)' },
      { name: 'sync.catchup_100k_s', value: Math.round(catchupSeconds * 1000) / 1000, unit: `s (${UPDATES} ops behind, incl. connect)` },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function latency(): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'blaze-sync-latency-'));
  try {
    const { db, ids } = await writer();
    const bugs = db.collection('bugs');
    const receiver = await startReceiver(dir, true);
    const { session, socket } = await link(db, receiver.port);
    await acked(session, db.nodeId, RECORDS);
    const sentAt = new Map<number, number>();
    const latencies: number[] = [];
    receiver.onLine = (line) => {
      const [, at, probe] = line.split(' ');
      const sent = sentAt.get(Number(probe));
      if (sent !== undefined) latencies.push(Number(at) - sent);
    };
    // A steady 1,000 updates per second for 2 seconds.
    const n = 2000;
    for (let i = 0; i < n; i++) {
      const due = performance.now() + 1;
      sentAt.set(i, performance.timeOrigin + performance.now());
      await bugs.update(ids[i % RECORDS] as string, { probe: i });
      while (performance.now() < due) await new Promise((resolve) => setImmediate(resolve));
    }
    const deadline = performance.now() + 5000;
    while (latencies.length < n && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    if (process.env.BENCH_SYNC_TRACE) console.error(latencies.map((l) => l.toFixed(1)).join(' '));
    latencies.sort((a, b) => a - b);
    const pct = (p: number) =>
      Math.round((latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] as number) * 100) / 100;
    session.close();
    socket.destroy();
    await stopReceiver(receiver);
    await db.close();
    return [
      { name: 'sync.latency_ms_p50', value: pct(0.5), unit: `ms (${latencies.length} of ${n} seen at 1k ops/s)` },
      { name: 'sync.latency_ms_p99', value: pct(0.99), unit: 'ms' },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const syncBenchmark: Benchmark = {
  prefix: 'sync.',
  async run() {
    return [...(await throughputAndCatchup()), ...(await latency())];
  },
};
