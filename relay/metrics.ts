/**
 * The relay's Prometheus metrics (prom-client), served at /metrics. Counters count since the
 * process started (Prometheus' `rate()` turns them into per-second figures); gauges are read
 * from the hub when scraped. prom-client's process metrics come too (`process_*`, `nodejs_*`: CPU,
 * memory, heap, GC pause durations, event-loop delay), so an operator sees a relay that stalls.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { BlazeDB } from '../src/db/index.ts';

export interface MetricsSource {
  /** Open sync sessions per database. */
  sessionCounts(): Map<string, number>;
  databases(): Map<string, BlazeDB>;
  /** Adds what live sessions sent and received since the last call to the counters. */
  harvest(): void;
}

export class RelayMetrics {
  readonly registry = new Registry();
  readonly opsReceived: Counter<'db'>;
  readonly opsSent: Counter<'db'>;
  readonly bytesReceived: Counter<'db'>;
  readonly bytesSent: Counter<'db'>;
  readonly authFailures: Counter<'reason'>;
  readonly sessionsRefused: Counter<'code'>;
  readonly peersCutOff: Counter<'reason'>;
  readonly sessionsOpened: Counter<'db'>;
  readonly opsRejected: Counter<'db' | 'collection'>;

  readonly #source: MetricsSource;

  constructor(source: MetricsSource) {
    this.#source = source;
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
      new Counter<L>({ name, help, labelNames, registers });
    this.opsReceived = counter('blaze_ops_received_total', 'Ops received from peers', ['db']);
    this.opsSent = counter('blaze_ops_sent_total', 'Ops sent to peers', ['db']);
    this.bytesReceived = counter('blaze_bytes_received_total', 'Sync bytes received', ['db']);
    this.bytesSent = counter('blaze_bytes_sent_total', 'Sync bytes sent', ['db']);
    this.authFailures = counter('blaze_auth_failures_total', 'Sessions refused for their token or key, by check', ['reason']);
    this.sessionsRefused = counter('blaze_sessions_refused_total', 'Sessions refused or cut off, by close code', ['code']);
    this.peersCutOff = counter('blaze_peers_cut_off_total', 'Peers disconnected and refused for a while for abuse', ['reason']);
    this.sessionsOpened = counter('blaze_sessions_opened_total', 'Sync sessions admitted', ['db']);
    this.opsRejected = counter('blaze_ops_rejected_total', 'Writes the write rules refused (voided)', ['db', 'collection']);
    /** A gauge with one value per database, read when scraped. */
    const perDatabase = (name: string, help: string, value: (db: BlazeDB) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['db'],
        registers,
        collect() {
          this.reset();
          for (const [id, db] of source.databases()) this.set({ db: id }, value(db));
        },
      });
    new Gauge({
      name: 'blaze_peers_connected',
      help: 'Open sync sessions',
      labelNames: ['db'],
      registers,
      collect() {
        this.reset();
        for (const [db, n] of source.sessionCounts()) this.set({ db }, n);
      },
    });
    perDatabase('blaze_op_log_ops', 'Ops in the op log (GC keeps it bounded)', (db) => db.stats().opCount);
    new Gauge({
      name: 'blaze_frontier_lag_ops',
      help: 'Ops this relay holds that a GC member has not acknowledged',
      labelNames: ['db', 'member'],
      registers,
      collect() {
        this.reset();
        for (const [id, db] of source.databases())
          for (const m of db.gcCollector.status().members)
            if (m.lagOps !== undefined && !m.evicted) this.set({ db: id, member: m.id }, m.lagOps);
      },
    });
    perDatabase('blaze_gc_runs', 'Compaction runs since the relay started', (db) => db.gcCollector.runs);
    perDatabase('blaze_gc_removed_ops', 'Ops compaction removed since the relay started', (db) => db.gcCollector.removedOps);
  }

  text(): Promise<string> {
    // Counters first take in what live sessions did since the last scrape.
    this.#source.harvest();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
