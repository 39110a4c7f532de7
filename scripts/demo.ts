/**
 * `npm run demo`: a blaze-node relay (its own process, started by its CLI) and three peers: a
 * laptop and a desktop on one "LAN" that sync with each other directly, and a phone that
 * reaches them only through the relay. Each writes; the demo shows who talks to whom, the time
 * to convergence, the shared counter's exact sum, and distributed GC shrinking every op log
 * once all members acknowledged.
 *
 * Everything stays on loopback. The LAN peers dial each other by address (what mDNS would find
 * them: mDNS multicasts on your real network, so the demo leaves it off). Bounded: it stops by
 * itself (DEMO_TIMEOUT_S, default 120) and removes its temporary directory.
 *
 *   npm run demo                      # 300 records per peer
 *   DEMO_RECORDS=50 npm run demo      # smaller
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlazeDB } from '../node/index.ts';
import type { MeshPeer } from '../node/mesh/mesh-peer.ts';
import { until } from '../test/helpers/relay.ts';
import { blazeNode, RelayProcess } from '../test/helpers/relay-process.ts';

const DB_ID = 'demo';
const RECORDS = positive('DEMO_RECORDS', 300);
const TIMEOUT_MS = positive('DEMO_TIMEOUT_S', 120) * 1000;
const GC_INTERVAL_S = 2;

function positive(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) {
    console.error(`${name} must be a positive integer, not '${text}'`);
    process.exit(2);
  }
  return value;
}

const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`.padStart(8);
const step = (text: string) => console.log(`${elapsed()}  ${text}`);

interface Device {
  readonly name: string;
  readonly db: BlazeDB;
  readonly mesh: MeshPeer;
  /** Peer ids it has a sync session with, and how (lan or relay). */
  readonly links: Map<string, string>;
}

/** Runs `blaze-node ARGS` to the end and returns its stdout. */
function runBlazeNode(args: string[]): string {
  const result = blazeNode(args);
  if (result.code !== 0) throw new Error(`blaze-node ${args[0]} failed: ${result.stderr.trim()}`);
  return result.stdout.trim();
}

async function startDevice(name: string, dir: string, options: { relay: string; token: string; peers?: string[] }): Promise<Device> {
  const db = await BlazeDB.open({ path: join(dir, name), dbId: DB_ID, gc: { intervalMs: GC_INTERVAL_S * 1000 } });
  const mesh = (await db.enableSync({
    relay: options.relay,
    token: options.token,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    ...(options.peers ? { peers: options.peers } : {}),
    backoffBaseMs: 100,
    backoffCapMs: 1_000,
  })) as MeshPeer;
  const links = new Map<string, string>();
  mesh.on('peer:connected', ({ peer, kind }) => links.set(peer, kind));
  mesh.on('peer:disconnected', ({ peer }) => links.delete(peer));
  if (process.env.DEMO_DEBUG) mesh.on('error', (err) => step(`${name}: ${err.message}`));
  return { name, db, mesh, links };
}

/** Waits for `check`, within what is left of the demo's time. */
const within = (check: () => boolean | Promise<boolean>, what: string) =>
  until(check, what, Math.max(0, started + TIMEOUT_MS - performance.now()));

/** The relay's Prometheus figure `name` for the demo database: one value per series (member). */
async function relayMetric(http: string, name: string): Promise<number[]> {
  const text = await (await fetch(`http://${http}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{db="${DB_ID}"`))
    .map((l) => Number(l.split(' ').at(-1)));
}

/** Each device's writes: its own tasks, updates of them, and likes on one shared record. */
async function work(device: Device, shared: string): Promise<number> {
  const tasks = device.db.collection('tasks');
  let likes = 0;
  for (let done = 0; done < RECORDS; done += 50) {
    const n = Math.min(50, RECORDS - done);
    const ids = await tasks.insertMany(
      Array.from({ length: n }, (_, i) => ({ title: `${device.name} task ${done + i}`, done: false, owner: device.name })),
    );
    for (const id of ids.slice(0, n / 2)) await tasks.update(id, { done: true });
    await tasks.increment(shared, 'likes', n);
    likes += n;
  }
  return likes;
}

function vectorKey(db: BlazeDB): string {
  return JSON.stringify(Object.entries(db.stats().versionVector).sort());
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'blaze-demo-'));
  let relay: RelayProcess | undefined;
  const devices: Device[] = [];
  try {
    const data = join(dir, 'relay');
    runBlazeNode(['init', '--data', data]);
    const up = await RelayProcess.start([
      ...['--data', data, '--listen', '/ip4/127.0.0.1/tcp/0', '--http', '127.0.0.1:0'],
      ...['--gc-interval', `${GC_INTERVAL_S}s`],
    ]);
    relay = up.relay;
    const address = (up.started.addresses as string[])[0] as string;
    const http = up.started.http as string;
    step(`relay up (its own process): ${address}, metrics on http://${http}/metrics`);
    const token = (sub: string) => runBlazeNode(['token', '--data', data, '--sub', sub, '--db-id', DB_ID, '--ttl', '1h']);

    const laptop = await startDevice('laptop', dir, { relay: address, token: token('ann') });
    const desktop = await startDevice('desktop', dir, { relay: address, token: token('ann'), peers: [laptop.mesh.addresses[0] as string] });
    const phone = await startDevice('phone', dir, { relay: address, token: token('bob') });
    devices.push(laptop, desktop, phone);
    const relayId = address.split('/p2p/')[1] as string;
    const name = (peer: string) => (peer === relayId ? 'relay' : (devices.find((d) => d.mesh.peerId === peer)?.name ?? peer.slice(-8)));
    // Both ends of the LAN link: each side reports its own session once it is in sync.
    const lanLinked = () => laptop.links.has(desktop.mesh.peerId) && desktop.links.has(laptop.mesh.peerId);
    await within(() => lanLinked() && devices.every((d) => d.links.has(relayId)), 'the connections');
    for (const d of devices) step(`${d.name.padEnd(8)} syncs with ${[...d.links].map(([p, kind]) => `${name(p)} (${kind})`).join(', ')}`);

    // One shared record every device likes; created on the laptop, seen everywhere first.
    const shared = await laptop.db.collection('tasks').insert({ title: 'the shared task', owner: 'laptop' });
    await laptop.db.collection('tasks').declare({ likes: 'counter' });
    await within(
      async () => (await Promise.all(devices.map((d) => d.db.collection('tasks').get(shared)))).every(Boolean),
      'the shared task',
    );

    step(`writing: ${RECORDS} tasks per device, half of them updated, likes on the shared task, all at once`);
    const writeStart = performance.now();
    const likes = (await Promise.all(devices.map((d) => work(d, shared)))).reduce((a, b) => a + b, 0);
    const written = performance.now();
    step(`written in ${((written - writeStart) / 1000).toFixed(2)} s; waiting for every device to hold every op`);
    await within(() => new Set(devices.map((d) => vectorKey(d.db))).size === 1, 'convergence');
    const converged = performance.now();
    const counts = await Promise.all(devices.map((d) => d.db.collection('tasks').count({})));
    const sums = await Promise.all(devices.map(async (d) => (await d.db.collection('tasks').get(shared))?.likes));
    step(`converged ${((converged - written) / 1000).toFixed(2)} s after the last write`);
    for (const [i, d] of devices.entries()) step(`${d.name.padEnd(8)} ${counts[i]} tasks, likes ${sums[i]} (expected ${likes})`);
    if (sums.some((s) => s !== likes) || new Set(counts).size !== 1) throw new Error('the devices do not agree');

    // GC: every member acknowledged everything; the relay (home relay) announces the frontier,
    // and each node compacts what is below it.
    await Promise.all(devices.map((d) => d.db.synced('relay-durable', { signal: AbortSignal.timeout(TIMEOUT_MS) })));
    const before = devices.map((d) => d.db.stats().opCount);
    const [relayBefore] = await relayMetric(http, 'blaze_op_log_ops');
    step(`relay-durable on every device; op logs: ${devices.map((d, i) => `${d.name} ${before[i]}`).join(', ')}, relay ${relayBefore}`);
    await within(
      async () => devices.every((d) => d.db.stats().opCount === 0) && (await relayMetric(http, 'blaze_op_log_ops'))[0] === 0,
      'GC',
    );
    const [removed] = await relayMetric(http, 'blaze_gc_removed_ops');
    const lags = await relayMetric(http, 'blaze_frontier_lag_ops');
    step(
      `GC: every op log is empty (the relay removed ${removed} ops); the relay's frontier covers ${lags.length} members, lag ${lags.join(', ')} ops`,
    );
    for (const d of devices) step(`${d.name.padEnd(8)} ${await d.db.collection('tasks').count({})} tasks, op log ${d.db.stats().opCount}`);
    // Still live after compaction: one more like from the phone reaches the laptop.
    await phone.db.collection('tasks').increment(shared, 'likes', 1);
    await within(async () => (await laptop.db.collection('tasks').get(shared))?.likes === likes + 1, 'a write after GC');
    step(`after GC, a like on the phone reached the laptop: likes ${likes + 1}`);
    step('done');
  } finally {
    for (const d of devices) await d.db.close().catch(() => {});
    await relay?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(`demo failed: ${err.message}`);
  process.exitCode = 1;
});
