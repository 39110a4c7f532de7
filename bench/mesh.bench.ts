/**
 * Mesh figures: real libp2p peers, each in its own process, over loopback TCP.
 * - lan_latency: A and B dialed directly (as mDNS would), no relay. relay_latency: A and B
 *   each connected to a relay only. Write resolved on A -> B's live query fires, 500 writes at
 *   100/s, same machine clock.
 * - duplicate_bytes_ratio: three LAN peers, all connected to each other and to a relay; each
 *   writes; bytes received for ops the receiver already had / all bytes received.
 * - ops_per_s_10_peers: ten peers (SQLite stores) through one relay; each inserts its share in
 *   transactions of 100; counted when every node holds every op (applied durably).
 * - idle_peer_rss_mb: an idle peer process holding 10k records, connected to a relay (run on
 *   the built JavaScript, as an app runs it).
 * - lan_discovery_ms: spawn a peer in a network namespace to its first op from a LAN peer found
 *   by mDNS (needs root; skipped otherwise).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { tempDir } from '../test/helpers/db.ts';
import { createLan, namespacesUnavailable } from '../test/helpers/netns.ts';
import { PeerClient } from '../test/helpers/peer-client.ts';
import { percentile, probeLatencies } from '../test/helpers/probes.ts';
import type { Figure } from './harness.ts';

const LOOPBACK = { listen: ['/ip4/127.0.0.1/tcp/0'] };
const launch = (argv: string[]) => spawn(argv[0] as string, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

async function startPeers(configs: Record<string, unknown>[], dbId: string): Promise<PeerClient[]> {
  return Promise.all(configs.map((mesh) => PeerClient.start(launch, { dbId, mesh: { ...LOOPBACK, ...mesh } })));
}

async function stopAll(peers: PeerClient[]): Promise<void> {
  await Promise.all(peers.map((p) => p.stop()));
}

/** Waits until every peer's version vector equals `target` (or throws after `ms`). */
async function converged(peers: PeerClient[], ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const vectors = (await Promise.all(peers.map((p) => p.call('version')))).map((v) => JSON.stringify(Object.entries(v as object).sort()));
    if (vectors.every((v) => v === vectors[0])) return;
    if (Date.now() > deadline) throw new Error(`peers did not converge within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** p50/p99 of write-on-A -> seen-on-B latencies, in ms. */
async function probeLatency(a: PeerClient, b: PeerClient): Promise<{ p50: number; p99: number; seen: number }> {
  await b.call('watch', { collection: 'probes' });
  const writes = (await a.call('probe', { collection: 'probes', count: 500, intervalMs: 10 })) as [number, number][];
  await new Promise((r) => setTimeout(r, 500));
  // The first writes also pay for connection warm-up and path learning: measure the rest.
  // (A value shown only through a later one counts as seen then, not as missing.)
  const latencies = probeLatencies(writes.slice(50), b.events)
    .filter(Number.isFinite)
    .sort((x, y) => x - y);
  const pct = (q: number) => round(percentile(latencies, q));
  return { p50: pct(0.5), p99: pct(0.99), seen: latencies.length };
}

async function lanLatency(): Promise<Figure[]> {
  const [b] = await startPeers([{}], 'mesh-lan');
  const b0 = b as PeerClient;
  const [a] = await startPeers([{ peers: [b0.addresses[0]] }], 'mesh-lan');
  const a0 = a as PeerClient;
  try {
    await a0.waitFor((e) => e.event === 'connected');
    const r = await probeLatency(a0, b0);
    return [
      { name: 'mesh.lan_latency_ms_p50', value: r.p50, unit: `ms (direct libp2p session, ${r.seen} writes at 100/s)` },
      { name: 'mesh.lan_latency_ms_p99', value: r.p99, unit: 'ms' },
    ];
  } finally {
    await stopAll([a0, b0]);
  }
}

async function relayLatency(): Promise<Figure[]> {
  const [relay] = (await startPeers([{ role: 'relay' }], 'mesh-relay')) as [PeerClient];
  const peers = (await startPeers([{ relay: relay.addresses[0] }, { relay: relay.addresses[0] }], 'mesh-relay')) as [
    PeerClient,
    PeerClient,
  ];
  try {
    await Promise.all(peers.map((p) => p.waitFor((e) => e.event === 'connected')));
    const r = await probeLatency(peers[0], peers[1]);
    return [
      { name: 'mesh.relay_latency_ms_p50', value: r.p50, unit: `ms (peer -> relay -> peer, ${r.seen} writes at 100/s)` },
      { name: 'mesh.relay_latency_ms_p99', value: r.p99, unit: 'ms' },
    ];
  } finally {
    await stopAll([...peers, relay]);
  }
}

/** One run: duplicate bytes / bytes received, and ops received beyond one copy per node. */
async function duplicateRun(): Promise<{ ratio: number; excess: number }> {
  const [relay] = (await startPeers([{ role: 'relay' }], 'mesh-dup')) as [PeerClient];
  const r = relay.addresses[0];
  // Three LAN peers, each dialing those started before it, all with the relay: a full mesh.
  const lan: PeerClient[] = [];
  for (let i = 0; i < 3; i++) {
    const [p] = await startPeers([{ relay: r, peers: lan.map((q) => q.addresses[0]) }], 'mesh-dup');
    lan.push(p as PeerClient);
  }
  const all = [relay, ...lan];
  try {
    for (const p of lan) await p.waitFor((e) => e.event === 'connected' && e.kind === 'relay');
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (let i = 0; i < 20; i++) {
      await Promise.all(lan.map((p) => p.call('insertMany', { collection: 'bugs', count: 50, batch: 10 })));
    }
    await converged(all, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 300)); // last ACKs
    const stats = (await Promise.all(all.map((p) => p.call('stats')))) as {
      bytesReceived: number;
      duplicateBytesReceived: number;
      duplicateOpsReceived: number;
      opsReceived: number;
    }[];
    const sum = (k: keyof (typeof stats)[number]) => stats.reduce((n, s) => n + s[k], 0);
    // Every op written by a LAN peer must reach the three other nodes once.
    return { ratio: sum('duplicateBytesReceived') / sum('bytesReceived'), excess: sum('opsReceived') - 3000 * 3 };
  } finally {
    await stopAll(all);
  }
}

async function duplicateRatio(): Promise<Figure[]> {
  const runs: { ratio: number; excess: number }[] = [];
  for (let i = 0; i < 3; i++) runs.push(await duplicateRun());
  runs.sort((x, y) => x.ratio - y.ratio);
  const median = runs[1] as { ratio: number; excess: number };
  return [
    {
      name: 'mesh.duplicate_bytes_ratio',
      value: round(median.ratio, 4),
      unit: `of bytes received (3 LAN peers + relay, full mesh, 3000 ops; median of 3 runs: ${runs.map((r) => round(r.ratio, 3)).join(', ')}; ops received beyond one copy: ${median.excess})`,
    },
  ];
}

async function tenPeers(): Promise<Figure[]> {
  const dirs = Array.from({ length: 11 }, () => tempDir('blaze-mesh-bench-'));
  const start = (i: number, mesh: Record<string, unknown>) =>
    PeerClient.start(launch, { dbId: 'mesh-ten', path: (dirs[i] as { path: string }).path, mesh: { ...LOOPBACK, ...mesh } });
  const relay = await start(0, { role: 'relay' });
  const peers = await Promise.all(Array.from({ length: 10 }, (_, i) => start(i + 1, { relay: relay.addresses[0] })));
  const all = [relay, ...peers];
  try {
    await Promise.all(peers.map((p) => p.waitFor((e) => e.event === 'connected')));
    const perPeer = 2_000;
    const cpuBefore = (await Promise.all(all.map((p) => p.call('cpu')))) as { user: number; system: number }[];
    const t0 = performance.now();
    await Promise.all(peers.map((p) => p.call('insertMany', { collection: 'bugs', count: perPeer, batch: 100 })));
    await converged(all, 120_000);
    const seconds = (performance.now() - t0) / 1000;
    const cpuAfter = (await Promise.all(all.map((p) => p.call('cpu')))) as { user: number; system: number }[];
    const cpuMicros = cpuAfter.reduce((n, c, i) => n + c.user + c.system - ((cpuBefore[i]?.user ?? 0) + (cpuBefore[i]?.system ?? 0)), 0);
    const ops = perPeer * peers.length;
    const deliveries = ops * (all.length - 1); // every op applied on every node but its writer
    return [
      {
        name: 'mesh.ops_per_s_10_peers',
        value: Math.round(ops / seconds),
        unit: `ops/s (10 peers + relay, SQLite, ${ops} ops until all 11 hold all)`,
      },
      {
        name: 'mesh.cpu_us_per_delivery',
        value: round(cpuMicros / deliveries, 1),
        unit: 'CPU µs per op applied on a node (all 11 processes)',
      },
    ];
  } finally {
    await stopAll(all);
    for (const d of dirs) d.cleanup();
  }
}

/** Builds the package (tsc) so the idle figure is taken on the JavaScript an app runs. */
function build(): string {
  const root = new URL('..', import.meta.url).pathname;
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.build.json`], { stdio: 'inherit' });
  return `${root}dist/node/index.js`;
}

async function idleRss(): Promise<Figure[]> {
  const entry = build();
  const dir = tempDir('blaze-mesh-rss-');
  const [relay] = (await startPeers([{ role: 'relay' }], 'mesh-rss')) as [PeerClient];
  try {
    const child = spawnSync(
      process.execPath,
      ['--expose-gc', new URL('./idle-peer.mjs', import.meta.url).pathname, entry, dir.path, relay.addresses[0] as string],
      {
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    if (child.status !== 0) throw new Error(`idle peer failed: ${child.stderr}`);
    const { rss } = JSON.parse(child.stdout) as { rss: number };
    return [
      {
        name: 'mesh.idle_peer_rss_mb',
        value: round(rss / 2 ** 20, 1),
        unit: 'MB (idle peer, built JS, 10k records in SQLite, relay session open)',
      },
    ];
  } finally {
    await relay.stop();
    dir.cleanup();
  }
}

/**
 * From spawning a peer process on a namespaced LAN to its first op synced from a LAN peer
 * found by mDNS (query interval 250 ms). Needs root for the namespaces; skipped with the reason
 * otherwise.
 */
async function lanDiscovery(): Promise<Figure[]> {
  const unavailable = namespacesUnavailable();
  if (unavailable) {
    process.stderr.write(`  mesh.lan_discovery_ms skipped: ${unavailable}\n`);
    return [];
  }
  const lan = createLan(['a', 'b']);
  const peers: PeerClient[] = [];
  try {
    const start = (host: string) =>
      PeerClient.start((argv) => lan.spawn(host, argv), {
        dbId: 'mesh-discovery',
        mesh: { listen: [`/ip4/${lan.ip(host)}/tcp/4001`], mdns: { intervalMs: 250 } },
      });
    const b = await start('b');
    peers.push(b);
    const id = (await b.call('insert', { collection: 'bugs', fields: { title: 'on the LAN' } })) as string;
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const a = await start('a');
      await a.waitForRecord('bugs', id, 20_000);
      samples.push(performance.now() - t0);
      await a.stop();
    }
    samples.sort((x, y) => x - y);
    return [
      {
        name: 'mesh.lan_discovery_ms',
        value: Math.round(samples[2] as number),
        unit: `ms from spawning a peer process to its first op from an mDNS-found LAN peer (median of 5: ${samples.map(Math.round).join(', ')})`,
      },
    ];
  } finally {
    await stopAll(peers);
    lan.cleanup();
  }
}

export const meshBenchmark = {
  prefix: 'mesh.',
  async run(): Promise<Figure[]> {
    return [
      ...(await lanLatency()),
      ...(await relayLatency()),
      ...(await duplicateRatio()),
      ...(await tenPeers()),
      ...(await idleRss()),
      ...(await lanDiscovery()),
    ];
  },
};
