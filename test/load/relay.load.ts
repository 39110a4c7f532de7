/**
 * `npm run test:load` (not part of `npm test`): a real `blaze-node` process on loopback under 500
 * peer connections (four load processes, bench/relay-load.ts, each peer syncing its own records)
 * writing steadily, then abusive peers on top. It checks that
 * - every peer's writes become relay-durable and a full replica that syncs afterwards holds all
 *   of them (convergence);
 * - the relay's memory stays under a bound (LOAD_RSS_MB, default 1,024 MB: a Raspberry Pi 4's
 *   share) throughout (the chart shows its course);
 * - stream floods, oversize frames and peers that stop reading are cut off, while an honest
 *   peer's write-to-visible p99 (probes between two peers in different processes) stays within
 *   2x of the same figure before the abuse.
 * Writes load-report/relay-load.html (relay memory and probe latency over time, the abuse as a
 * band) and load-report/relay-load.json. LOAD_PEERS=100 runs fewer peers;
 * LOAD_RELAY_NODE_FLAGS passes flags to the relay's node (e.g. `--cpu-prof --cpu-prof-dir=DIR`, `--trace-gc`).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { BlazeDB } from '../../node/index.ts';
import { MeshPeer } from '../../node/mesh/mesh-peer.ts';
import { initDataDir, peerIdOfSeed } from '../../relay/data-dir.ts';
import { esc, lineChart, type Series } from '../../simulations/sim/line-chart.ts';
import { floodStreams, sendOversizeFrame, slowReader } from '../helpers/abusers.ts';
import { tempDir } from '../helpers/db.ts';
import { PeerClient } from '../helpers/peer-client.ts';
import { percentile, probeLatencies, wallMs } from '../helpers/probes.ts';
import { issue, until } from '../helpers/relay.ts';
import { RelayProcess } from '../helpers/relay-process.ts';

const PEERS = Number(process.env.LOAD_PEERS ?? 500);
const RSS_BOUND_MB = Number(process.env.LOAD_RSS_MB ?? 1024);
const RELAY_NODE_FLAGS = (process.env.LOAD_RELAY_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const LOAD_PROCESSES = 4;
/**
 * Each peer writes one record this often: 500 peers make 25 writes per second. (At 100 per
 * second the relay falls behind on this 2-core machine: every commit is judged once per partial
 * session, docs/benchmarks.md.)
 */
const WRITE_INTERVAL_MS = 20_000;
/**
 * Probe writes per phase (the first tenth warms up): p99 over 270 is about the third worst. With
 * 135 it was the second worst, and one 180 ms hiccup decided the 2x comparison. Not faster than
 * this: every commit costs a 500-peer relay ~20 ms of judging (one look per partial session).
 */
const PROBES = 300;
const PROBE_INTERVAL_MS = 40;
const LOAD = { path: new URL('../../bench/relay-load.ts', import.meta.url).pathname, readyMs: 600_000 };
const DB = 'load';

const log = (line: string) => process.stderr.write(`  [load] ${line}\n`);

// Bounded whatever happens: a run that hangs (a stuck dial, a relay that will not stop) ends here.
const WATCHDOG_MS = 15 * 60_000;
setTimeout(() => {
  log(`still running after ${WATCHDOG_MS / 60_000} min: giving up`);
  process.exit(1);
}, WATCHDOG_MS).unref();

interface Probe {
  /** When the write resolved, ms since the run started. */
  at: number;
  latencyMs: number;
}

describe('relay under load', () => {
  it(`should converge ${PEERS} peers with bounded memory, and cut off abusers while honest p99 stays within 2x`, async () => {
    const dir = tempDir('blaze-load-');
    const keys = await initDataDir(dir.path);
    const token = (sub: string, peer?: string) => issue(keys, sub, DB, peer);
    const { relay, started } = await RelayProcess.start(
      [
        ...['--data', dir.path, '--listen', '/ip4/127.0.0.1/tcp/0', '--http', '127.0.0.1:0', '--log-level', 'info'],
        ...['--max-connections', '4096', '--stall-timeout', '5s'],
      ],
      RELAY_NODE_FLAGS,
    );
    const address = (started.addresses as string[])[0] as string;
    /** The relay's stalls since the last call: longest event-loop delay, and major GC pauses (prom-client resets the delay histogram per scrape). */
    const stalls = async () => {
      const text = await (await fetch(`http://${started.http as string}/metrics`)).text();
      const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? Number.NaN);
      return {
        loopDelayMaxMs: Math.round(value(/^nodejs_eventloop_lag_max_seconds ([\d.e+-]+)/m) * 1000),
        majorGcs: value(/^nodejs_gc_duration_seconds_count\{kind="major"\} (\d+)/m) || 0,
        majorGcMs: Math.round((value(/^nodejs_gc_duration_seconds_sum\{kind="major"\} ([\d.e+-]+)/m) || 0) * 1000),
      };
    };
    const t0 = wallMs();
    const now = () => wallMs() - t0;
    const rss: [number, number][] = [];
    const sampler = setInterval(() => {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${relay.child.pid}/status`, 'utf8'))?.[1]);
      rss.push([now(), kb / 1024]);
    }, 1_000);
    let loads: PeerClient[] = [];
    let stopAbusers = async () => {};
    let cleanedUp = false;
    try {
      const per = Math.ceil(PEERS / LOAD_PROCESSES);
      const tokens = await Promise.all(Array.from({ length: PEERS }, (_, i) => token(`user${i}`)));
      log(`${PEERS} peers connecting ...`);
      loads = await Promise.all(
        Array.from({ length: LOAD_PROCESSES }, (_, i) =>
          PeerClient.start(
            (argv) => spawn(argv[0] as string, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] }),
            { relay: address, dbId: DB, tokens: tokens.slice(i * per, (i + 1) * per), own: true },
            LOAD,
          ),
        ),
      );
      log(`${PEERS} peers in sync after ${(now() / 1000).toFixed(1)} s; steady writes begin`);
      const [writer, watcher] = loads as [PeerClient, PeerClient];
      await watcher.call('watch');
      // Several MB that a new full replica must take: a peer that stops reading stalls on it.
      await writer.call('bulk', { count: 400, bytes: 10_000 });
      const steadyMs = 75_000;
      const steady = loads.map((l) => l.call('steady', { intervalMs: WRITE_INTERVAL_MS, durationMs: steadyMs }) as Promise<number>);
      for (const s of steady) s.catch(() => {}); // awaited below; if the test fails first, the processes stop under them
      const probe = async (): Promise<Probe[]> => {
        const writes = (await writer.call('probe', { count: PROBES, intervalMs: PROBE_INTERVAL_MS })) as [number, number][];
        await new Promise((r) => setTimeout(r, 2_000));
        const latencies = probeLatencies(writes, watcher.events);
        watcher.events.length = 0;
        // The first tenth warms up (a new probe record, fresh frames).
        return writes.map(([, at], i) => ({ at: at - t0, latencyMs: latencies[i] as number })).slice(PROBES / 10);
      };
      await new Promise((r) => setTimeout(r, 10_000));
      await stalls();
      const quiet = await probe();
      const quietP99 = p99(quiet);
      log(`quiet p99 ${quietP99.toFixed(1)} ms; relay meanwhile: ${JSON.stringify(await stalls())}`);
      const unseen = quiet.filter((p) => !Number.isFinite(p.latencyMs)).length;
      assert.equal(unseen, 0, `${unseen} of ${quiet.length} quiet probe writes not seen on the other peer within 2 s: the relay is behind`);

      const abuseFrom = now();
      log('abusers: stream floods, oversize frames, slow readers');
      const abusers: { stop(): Promise<void> }[] = [];
      // Each abuser is kept for the cleanup as soon as it exists: if another one fails to start,
      // those already running must still be stopped, or their hosts keep this process alive.
      const track = <T extends { stop(): Promise<void> }>(abuser: Promise<T>) =>
        abuser.then((a) => {
          if (cleanedUp)
            void a.stop(); // came up after the test ended
          else abusers.push(a);
          return a;
        });
      const abusing = (async () => {
        const floods = await Promise.all([1, 2, 3].map(() => track(floodStreams(address, 200))));
        const oversize = await Promise.all([1, 2, 3].map(() => track(sendOversizeFrame(address))));
        const slow = await Promise.all([1, 2].map((n) => track(slowReader(address, DB, (peer) => token(`slow${n}`, peer)))));
        await Promise.all([...floods, ...oversize].map((a) => a.disconnected(30_000)));
        await Promise.race([
          Promise.all(slow.map((s) => s.closed)),
          new Promise((_, reject) => setTimeout(() => reject(new Error('a slow reader was not cut off within 60 s')), 60_000)),
        ]);
      })();
      stopAbusers = () => Promise.all(abusers.map((a) => a.stop())).then(() => {});
      const abused = await probe();
      await abusing;
      await stopAbusers();
      const abuseUntil = now();
      const abusedP99 = p99(abused);
      log(`relay during the abuse: ${JSON.stringify(await stalls())}`);
      log(`p99 with abusers ${abusedP99.toFixed(1)} ms; all abusers cut off after ${((abuseUntil - abuseFrom) / 1000).toFixed(1)} s`);

      const written = (await Promise.all(steady)).reduce((a, b) => a + b, 0);
      const durable = (await Promise.all(loads.map((l) => l.call('durable', { timeoutMs: 120_000 })))) as number[];
      log(`${written} steady writes; ${durable.reduce((a, b) => a + b, 0)} of ${PEERS} peers relay-durable`);
      // A full replica that syncs now holds every peer's writes: the relay converged.
      // (bugs: the steady writes; blobs and probes are the test's own.)
      const checker = await BlazeDB.open({ storage: 'memory', dbId: DB });
      const checkerToken = await token('checker', await peerIdOfSeed(checker.deviceKeySeed()));
      const mesh = await MeshPeer.start(checker, { relay: address, token: checkerToken, listen: [] });
      try {
        await until(async () => (await checker.collection('bugs').count()) === written, 'the full replica holding every write', 120_000);
      } finally {
        await mesh.stop();
        await checker.close();
      }
      clearInterval(sampler);
      const maxRss = Math.max(...rss.map(([, mb]) => mb));
      report({ rss, quiet, abused, abuseFrom, abuseUntil, quietP99, abusedP99, maxRss, written });

      assert.deepEqual(
        durable,
        loads.map((_, i) => tokens.slice(i * per, (i + 1) * per).length),
        'every peer relay-durable',
      );
      assert.ok(maxRss < RSS_BOUND_MB, `relay RSS peaked at ${maxRss.toFixed(0)} MB (bound ${RSS_BOUND_MB})`);
      assert.ok(abusedP99 <= 2 * quietP99, `p99 ${abusedP99.toFixed(1)} ms with abusers, ${quietP99.toFixed(1)} ms before`);
    } finally {
      clearInterval(sampler);
      cleanedUp = true;
      await stopAbusers().catch(() => {});
      await Promise.all(loads.map((l) => l.stop()));
      const killed = setTimeout(() => relay.child.kill('SIGKILL'), 30_000);
      await relay.kill('SIGTERM');
      clearTimeout(killed);
      dir.cleanup();
    }
  });
});

function p99(probes: readonly Probe[]): number {
  return percentile(
    probes.map((p) => p.latencyMs).sort((a, b) => a - b),
    0.99,
  );
}

function report(r: {
  rss: [number, number][];
  quiet: Probe[];
  abused: Probe[];
  abuseFrom: number;
  abuseUntil: number;
  quietP99: number;
  abusedP99: number;
  maxRss: number;
  written: number;
}): void {
  mkdirSync('load-report', { recursive: true });
  const endMs = Math.max(...r.rss.map(([t]) => t));
  const frame = { endMs, bands: [{ at: r.abuseFrom, until: r.abuseUntil, label: 'abusive peers' }] };
  const latency = (name: string, probes: Probe[]): Series => ({
    name,
    points: probes.filter((p) => Number.isFinite(p.latencyMs)).map((p) => [p.at, p.latencyMs]),
  });
  const figures = {
    peers: PEERS,
    steadyWrites: r.written,
    relayRssMaxMb: Math.round(r.maxRss),
    quietP99Ms: Math.round(r.quietP99 * 10) / 10,
    abusedP99Ms: Math.round(r.abusedP99 * 10) / 10,
  };
  writeFileSync('load-report/relay-load.json', `${JSON.stringify({ ...figures, rss: r.rss, quiet: r.quiet, abused: r.abused })}\n`);
  const rows = Object.entries(figures)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`)
    .join('');
  writeFileSync(
    'load-report/relay-load.html',
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>blaze-node under load</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:24px;max-width:820px}th,td{padding:3px 10px;text-align:left}</style></head><body>
<h1>blaze-node under load</h1><table>${rows}</table><p>Grey band: abusive peers connected.</p>
${lineChart('Relay memory (RSS)', 'MB', [{ name: 'rss', points: r.rss }], frame)}
${lineChart('Write on one peer to visible on another', 'ms', [latency('quiet', r.quiet), latency('with abusers', r.abused)], frame)}
</body></html>\n`,
  );
  log(`report: load-report/relay-load.html ${JSON.stringify(figures)}`);
}
