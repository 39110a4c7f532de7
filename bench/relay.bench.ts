/**
 * Relay figures: a real `blaze-node start` process on loopback, driven by at most four load
 * processes (bench/relay-load.ts), each holding many mesh peers (in-memory stores, one libp2p
 * host and device token each). Everything shares this machine's cores, the relay included.
 * - ingest_ops_per_s_100_peers: 100 peers, each syncing only its own records, each inserts
 *   500 in transactions of 100; ops / time until every peer's writes are relay-durable.
 * - fanout_deliveries_per_s: 100 peers holding everything; 4 of them insert 1,000 each;
 *   deliveries (ops x receiving peers) / time until the relay's metrics count them all sent
 *   (handed to the peers' streams, which hold a bounded amount); fanout_applied_deliveries_per_s:
 *   the same / time until every peer holds all 4,000 (the load processes apply them too).
 * - rss_mb_per_idle_connection: the relay's RSS with 200 idle peers in sync minus before, / 200.
 * - p99_ms_500_peers: with 500 peers connected, a write on one peer to its live query firing
 *   on another (300 writes at 50/s; the first 50 skipped as warm-up); every peer a full
 *   replica, so each write goes to all 500.
 * - p99_ms_500_partial_peers: the same, each peer syncing only its own records (and the two
 *   probing peers the probes), so the other 498 only count each write's dot.
 * A figure that could not be measured is left out, with the reason on stderr.
 * RELAY_BENCH_SCALE=0.2 runs fewer peers (names then say so); RELAY_BENCH_PROFILE=DIR writes
 * the relay's CPU profile there.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { initDataDir, loadDataDir } from '../relay/data-dir.ts';
import { issueDeviceToken } from '../relay/token-issuer.ts';
import { tempDir } from '../test/helpers/db.ts';
import { PeerClient } from '../test/helpers/peer-client.ts';
import { percentile, probeLatencies } from '../test/helpers/probes.ts';
import { RelayProcess } from '../test/helpers/relay-process.ts';
import type { Figure } from './harness.ts';

const LOAD = { path: new URL('./relay-load.ts', import.meta.url).pathname, readyMs: 600_000 };
const launch = (argv: string[]) => spawn(argv[0] as string, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const LOAD_PROCESSES = 4;

interface Relay {
  process: RelayProcess;
  address: string;
  tokens(dbId: string, n: number): Promise<string[]>;
  rssMb(): number;
  /** CPU seconds the relay process used so far (user + system). */
  cpuSeconds(): number;
  /** Ops the relay has handed to its peers' streams so far, for one database (its metrics). */
  opsSent(dbId: string): Promise<number>;
}

/** RELAY_BENCH_PROFILE=DIR: the relay writes a CPU profile there when it stops. */
const PROFILE_DIR = process.env.RELAY_BENCH_PROFILE;
/** RELAY_BENCH_SCALE=0.2: fewer peers and ops (for a quick run or a profile); figures then say so. */
const SCALE = Number(process.env.RELAY_BENCH_SCALE ?? 1);
if (!(SCALE > 0 && SCALE <= 1)) throw new Error(`RELAY_BENCH_SCALE must be in (0, 1], not '${process.env.RELAY_BENCH_SCALE}'`);
const scaled = (n: number) => Math.max(2, Math.round(n * SCALE));
const named = (name: string) => (SCALE < 1 ? `${name}_at_scale_${SCALE}` : name);

async function startRelay(dir: string): Promise<Relay> {
  await initDataDir(dir);
  const keys = await loadDataDir(dir);
  const nodeFlags = [
    ...(PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []),
    ...(process.env.RELAY_BENCH_NODE_FLAGS?.split(' ').filter((f) => f.length > 0) ?? []),
  ];
  const { relay, started } = await RelayProcess.start(
    [
      '--data',
      dir,
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
      '--http',
      '127.0.0.1:0',
      '--log-level',
      'info',
      '--max-connections',
      '4096',
      '--max-ops-per-second',
      '10000000',
    ],
    nodeFlags,
  );
  const now = Math.floor(Date.now() / 1000);
  const metricsUrl = `http://${started.http as string}/metrics`;
  return {
    process: relay,
    address: (started.addresses as string[])[0] as string,
    tokens: (dbId, n) =>
      Promise.all(
        Array.from({ length: n }, (_, i) =>
          issueDeviceToken(keys.tokenKey, { sub: `user${i}`, dbId, ttlSeconds: 86_400, nowSeconds: now }),
        ),
      ),
    rssMb: () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${relay.child.pid}/status`, 'utf8'))?.[1]) / 1024,
    opsSent: async (dbId) => {
      const text = await (await fetch(metricsUrl)).text();
      const line = text.split('\n').find((l) => l.startsWith(`blaze_ops_sent_total{db="${dbId}"}`));
      return line ? Number(line.split(' ').at(-1)) : 0;
    },
    cpuSeconds: () => {
      // Fields 14 and 15 of /proc/PID/stat (after the parenthesised command name): clock ticks.
      const fields = readFileSync(`/proc/${relay.child.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
  };
}

/** `peers` peers of `dbId` split over the load processes; resolves once all are in sync. */
async function startLoad(relay: Relay, dbId: string, peers: number, extra: Record<string, unknown> = {}): Promise<PeerClient[]> {
  const tokens = await relay.tokens(dbId, peers);
  const per = Math.ceil(peers / LOAD_PROCESSES);
  const groups = Array.from({ length: LOAD_PROCESSES }, (_, i) => tokens.slice(i * per, (i + 1) * per)).filter((g) => g.length > 0);
  process.stderr.write(`  ${peers} peers of ${dbId} connecting ...\n`);
  return Promise.all(groups.map((group) => PeerClient.start(launch, { relay: relay.address, dbId, tokens: group, ...extra }, LOAD)));
}

async function stopLoad(loads: PeerClient[]): Promise<void> {
  await Promise.all(loads.map((l) => l.stop()));
}

async function ingest(relay: Relay): Promise<Figure[]> {
  const peers = scaled(100);
  const loads = await startLoad(relay, 'ingest', peers, { own: true });
  try {
    const count = 500;
    const cpuBefore = relay.cpuSeconds();
    const results = (await Promise.all(loads.map((l) => l.call('write', { count, batch: 100 })))) as {
      startedAt: number;
      doneAt: number;
    }[];
    const seconds = (Math.max(...results.map((r) => r.doneAt)) - Math.min(...results.map((r) => r.startedAt))) / 1000;
    const cpu = relay.cpuSeconds() - cpuBefore;
    return [
      { name: named('relay.ingest_ops_per_s_100_peers'), value: Math.round((peers * count) / seconds), unit: 'ops/s' },
      // Whether the relay or the load processes (sharing its cores) set the pace.
      { name: named('relay.ingest_relay_cpu_share'), value: round(cpu / seconds), unit: 'cores' },
    ];
  } finally {
    await stopLoad(loads);
  }
}

/**
 * Polls the relay's count of ops sent until it reaches `target`; resolves with the time it did
 * (ms since the epoch), or null at the deadline.
 */
async function whenSent(relay: Relay, dbId: string, target: number, deadline: number): Promise<number | null> {
  while (Date.now() < deadline) {
    if ((await relay.opsSent(dbId)) >= target) return performance.timeOrigin + performance.now();
    await new Promise((r) => setTimeout(r, 20));
  }
  return null;
}

async function fanout(relay: Relay): Promise<Figure[]> {
  const peers = scaled(100);
  const loads = await startLoad(relay, 'fanout', peers);
  try {
    const perWriter = 1_000;
    const total = perWriter * loads.length;
    const timeoutMs = Number(process.env.RELAY_BENCH_WAIT_MS ?? 300_000);
    const waits = loads.map((l) => l.call('waitCount', { n: total, timeoutMs }));
    // Each op goes to every peer but its writer.
    const deliveries = total * (peers - 1);
    const sentBefore = await relay.opsSent('fanout');
    const started = performance.timeOrigin + performance.now();
    const sent = whenSent(relay, 'fanout', sentBefore + deliveries, Date.now() + timeoutMs);
    await Promise.all(loads.map((l) => l.call('write', { writers: 1, count: perWriter, batch: 100 })));
    const done = (await Promise.all(waits)) as { at: number | null; min: number }[];
    if (done.some((d) => d.at === null)) throw new Error(`fanout did not complete: ${JSON.stringify(done)}`);
    const allSent = await sent;
    if (allSent === null) throw new Error('the relay did not count every delivery as sent');
    const seconds = (Math.max(...done.map((d) => d.at as number)) - started) / 1000;
    return [
      // Leaving the relay: handed to the peers' streams (its blaze_ops_sent_total).
      { name: named('relay.fanout_deliveries_per_s'), value: Math.round(deliveries / ((allSent - started) / 1000)), unit: 'deliveries/s' },
      // Until every peer holds every op: the load processes, on the same cores, apply them all.
      { name: named('relay.fanout_applied_deliveries_per_s'), value: Math.round(deliveries / seconds), unit: 'deliveries/s' },
    ];
  } finally {
    await stopLoad(loads);
  }
}

async function idleRss(relay: Relay): Promise<Figure> {
  await new Promise((r) => setTimeout(r, 2_000));
  const before = relay.rssMb();
  const peers = scaled(200);
  const loads = await startLoad(relay, 'idle', peers);
  try {
    await new Promise((r) => setTimeout(r, 5_000));
    const after = relay.rssMb();
    return { name: named('relay.rss_mb_per_idle_connection'), value: round((after - before) / peers, 3), unit: 'MB' };
  } finally {
    await stopLoad(loads);
  }
}

/** Write-to-visible p99 between two of 500 peers: all full replicas, or each syncing only its own records (`own`). */
async function probeP99(relay: Relay, name: string, dbId: string, own: boolean): Promise<Figure> {
  const loads = await startLoad(relay, dbId, scaled(500), own ? { own: true } : {});
  try {
    const [a, b] = loads as [PeerClient, PeerClient];
    await b.call('watch');
    const writes = (await a.call('probe', { count: 300, intervalMs: 20 })) as [number, number][];
    await new Promise((r) => setTimeout(r, 1_000));
    const latencies = probeLatencies(writes.slice(50), b.events).sort((x, y) => x - y);
    const seen = latencies.filter(Number.isFinite).length;
    if (seen < latencies.length * 0.99)
      throw new Error(`p99 not measured: ${seen} of ${latencies.length} probe writes were seen on the other peer`);
    const value = percentile(latencies, 0.99);
    return { name: named(name), value: round(value), unit: 'ms' };
  } finally {
    await stopLoad(loads);
  }
}

export const relayBenchmark = {
  prefix: 'relay.',
  async run(filter = ''): Promise<Figure[]> {
    const dir = tempDir('blaze-relay-bench-');
    const relay = await startRelay(dir.path);
    try {
      const figures: Figure[] = [];
      // Idle memory first, on a relay that has not yet grown caches and heap for the others.
      const steps: [string, (relay: Relay) => Promise<Figure | Figure[]>][] = [
        ['relay.rss_mb_per_idle_connection', idleRss],
        ['relay.ingest_ops_per_s_100_peers', ingest],
        ['relay.fanout_deliveries_per_s', fanout],
        ['relay.p99_ms_500_peers', (r) => probeP99(r, 'relay.p99_ms_500_peers', 'crowd', false)],
        // The same with selective sync (each peer its own records, as in the load test): each
        // op then goes to few peers, and the rest get its dots skipped.
        ['relay.p99_ms_500_partial_peers', (r) => probeP99(r, 'relay.p99_ms_500_partial_peers', 'partial-crowd', true)],
      ];
      for (const [name, step] of steps) {
        if (!name.startsWith(filter) && !filter.startsWith(name)) continue;
        try {
          figures.push(...[await step(relay)].flat());
        } catch (err) {
          // No figure rather than a wrong one; the others still count.
          process.stderr.write(`  ${name}: ${(err as Error).message}\n`);
        }
      }
      return figures;
    } finally {
      await relay.process.kill('SIGTERM');
      dir.cleanup();
    }
  },
};
