/**
 * Scenarios: data files (JSON) describing the nodes, links, workload and faults of a run. The
 * format is documented in docs/simulator.md; `parseScenario` checks a file against it and
 * throws ScenarioError naming the bad part.
 */
import { BlazeError } from '../../src/errors.ts';
import { FilterError, SyncFilter } from '../../src/sync/filter.ts';
import type { LinkProfile } from './network.ts';

export const FAULT_KINDS = [
  'partition',
  'asymmetric',
  'relay-outage',
  'crash',
  'skew',
  'lan-move',
  'gone',
  'backup-restore',
  'clone',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface Fault {
  readonly at: number;
  readonly kind: FaultKind;
  /** Nodes it applies to (partition: the first group is cut from the rest). */
  readonly nodes?: readonly string[];
  /** How long it lasts (ms) before it heals by itself; default: until the final heal. */
  readonly forMs?: number;
  /** skew: the clock offset, ms (up to +-24 h); lan-move: the new segment. */
  readonly skewMs?: number;
  readonly lan?: string;
}

export interface Workload {
  /** Ops each peer writes over the active phase. */
  readonly opsPerPeer: number;
  /** Records in play per collection. */
  readonly records: number;
  /** Share of ops that go to the first fifth of the records. */
  readonly hotShare: number;
  /** Per-peer overrides of opsPerPeer (busy and quiet devices). */
  readonly perPeer: Readonly<Record<string, number>>;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly peers: number;
  readonly relays: number;
  /** LAN segments: peers are spread over them in turn (0: no LAN, all through the relay). */
  readonly lanSegments: number;
  /** Active phase: writes and faults happen in [0, activeMs); then everything heals. */
  readonly activeMs: number;
  readonly links: { readonly lan: LinkProfile; readonly wan: LinkProfile };
  readonly workload: Workload;
  readonly faults: readonly Fault[];
  /** Faults drawn per seed from these kinds, at random times in the active phase. */
  readonly randomFaults?: { readonly count: number; readonly kinds: readonly FaultKind[]; readonly maxForMs?: number };
  /**
   * Peers (the last `count`) that are partial replicas, and their filters: the first of them
   * takes filters[0], the next filters[1], and so on, round.
   */
  readonly partial?: { readonly count: number; readonly filters: readonly unknown[] };
  readonly session: {
    readonly batchWindowMs: number;
    readonly ackIntervalMs: number;
    readonly backoffBaseMs: number;
    readonly backoffCapMs: number;
  };
  /**
   * Peers online only part of the time (laptops syncing once a day): each is on the network
   * `windowMs` of every `periodMs`, at its own random phase, and writes offline in between.
   */
  readonly online?: { readonly periodMs: number; readonly windowMs: number };
  /** Distributed GC (on unless disabled): compaction interval and the home relay's eviction. */
  readonly gc: { readonly enabled: boolean; readonly intervalMs: number; readonly evictAfterMs: number };
  /**
   * Write rules at the relays: they refuse about this share (percent) of the ops devices send
   * them, chosen by each op's dot, so every relay judges an op alike. Refused ops become voids.
   */
  readonly writeRules?: { readonly refusePercent: number };
}

export class ScenarioError extends BlazeError {
  override name = 'ScenarioError';
}

const DEFAULT_SESSION = { batchWindowMs: 5, ackIntervalMs: 1000, backoffBaseMs: 200, backoffCapMs: 5000 };
const DEFAULT_LAN: LinkProfile = { latencyMs: 2, jitterMs: 3, loss: 0, duplicate: 0, reorder: 0 };
const DEFAULT_WAN: LinkProfile = { latencyMs: 40, jitterMs: 30, loss: 0, duplicate: 0, reorder: 0 };
const DAY_MS = 24 * 3600 * 1000;

/** Checks a parsed JSON scenario; fills defaults. */
export function parseScenario(input: unknown): Scenario {
  const o = object(input, 'scenario', [
    'name',
    'description',
    'peers',
    'relays',
    'lanSegments',
    'activeMs',
    'links',
    'workload',
    'faults',
    'randomFaults',
    'partial',
    'session',
    'gc',
    'online',
    'writeRules',
  ]);
  const peers = int(o.peers, 'peers', 1, 500);
  const relays = int(o.relays ?? 1, 'relays', 0, 16);
  const links = object(o.links ?? {}, 'links', ['lan', 'wan']);
  const scenario: Scenario = {
    name: str(o.name, 'name'),
    description: typeof o.description === 'string' ? o.description : '',
    peers,
    relays,
    lanSegments: int(o.lanSegments ?? 1, 'lanSegments', 0, 64),
    activeMs: int(o.activeMs ?? 60_000, 'activeMs', 1, 400 * DAY_MS),
    links: { lan: profile(links.lan, DEFAULT_LAN, 'links.lan'), wan: profile(links.wan, DEFAULT_WAN, 'links.wan') },
    workload: workload(o.workload),
    faults: list(o.faults ?? [], 'faults').map((f, i) => fault(f, `faults[${i}]`)),
    ...(o.randomFaults !== undefined ? { randomFaults: randomFaults(o.randomFaults) } : {}),
    ...(o.partial !== undefined ? { partial: partial(o.partial, peers) } : {}),
    ...(o.online !== undefined ? { online: online(o.online) } : {}),
    ...(o.writeRules !== undefined ? { writeRules: writeRules(o.writeRules) } : {}),
    session: session(o.session),
    gc: { enabled: false, intervalMs: 0, evictAfterMs: 0 },
  };
  (scenario as { gc: Scenario['gc'] }).gc = gc(o.gc, scenario.session.ackIntervalMs);
  if (relays === 0 && scenario.lanSegments !== 1)
    throw new ScenarioError('without a relay, peers meet only on one LAN: lanSegments must be 1');
  for (const [i, f] of scenario.faults.entries()) {
    if (f.at >= scenario.activeMs || f.at + (f.forMs ?? 0) > scenario.activeMs) {
      throw new ScenarioError(`faults[${i}]: a fault starts and ends inside the active phase (at + forMs <= activeMs)`);
    }
  }
  return scenario;
}

function online(v: unknown): NonNullable<Scenario['online']> {
  const o = object(v, 'online', ['periodMs', 'windowMs']);
  const periodMs = int(o.periodMs, 'online.periodMs', 1, 400 * DAY_MS);
  return { periodMs, windowMs: int(o.windowMs, 'online.windowMs', 1, periodMs) };
}

function writeRules(v: unknown): NonNullable<Scenario['writeRules']> {
  const o = object(v, 'writeRules', ['refusePercent']);
  return { refusePercent: int(o.refusePercent, 'writeRules.refusePercent', 0, 100) };
}

/** GC defaults: compact every 5 ACK intervals; evict after 30 days of silence (as in production). */
function gc(v: unknown, ackIntervalMs: number): Scenario['gc'] {
  const o = object(v ?? {}, 'gc', ['enabled', 'intervalMs', 'evictAfterMs']);
  if (o.enabled !== undefined && typeof o.enabled !== 'boolean') throw new ScenarioError('gc.enabled: true or false');
  return {
    enabled: o.enabled ?? true,
    intervalMs: int(o.intervalMs ?? 5 * ackIntervalMs, 'gc.intervalMs', 1, 30 * DAY_MS),
    evictAfterMs: int(o.evictAfterMs ?? 30 * DAY_MS, 'gc.evictAfterMs', 1, 400 * DAY_MS),
  };
}

function workload(v: unknown): Workload {
  const o = object(v ?? {}, 'workload', ['opsPerPeer', 'records', 'hotShare', 'perPeer']);
  return {
    opsPerPeer: int(o.opsPerPeer ?? 100, 'workload.opsPerPeer', 0, 10_000_000),
    records: int(o.records ?? 20, 'workload.records', 1, 1_000_000),
    hotShare: num(o.hotShare ?? 0.5, 'workload.hotShare', 0, 1),
    perPeer: Object.fromEntries(
      Object.entries(object(o.perPeer ?? {}, 'workload.perPeer')).map(([peer, n]) => [
        peer,
        int(n, `workload.perPeer.${peer}`, 0, 10_000_000),
      ]),
    ),
  };
}

function fault(v: unknown, at: string): Fault {
  const o = object(v, at, ['at', 'kind', 'nodes', 'forMs', 'skewMs', 'lan']);
  const kind = o.kind;
  if (!FAULT_KINDS.includes(kind as FaultKind)) throw new ScenarioError(`${at}.kind: one of ${FAULT_KINDS.join(', ')}`);
  return {
    at: int(o.at, `${at}.at`, 0, 400 * DAY_MS),
    kind: kind as FaultKind,
    ...(o.nodes !== undefined ? { nodes: list(o.nodes, `${at}.nodes`).map((n, i) => str(n, `${at}.nodes[${i}]`)) } : {}),
    ...(o.forMs !== undefined ? { forMs: int(o.forMs, `${at}.forMs`, 1, 400 * DAY_MS) } : {}),
    ...(o.skewMs !== undefined ? { skewMs: int(o.skewMs, `${at}.skewMs`, -DAY_MS, DAY_MS) } : {}),
    ...(o.lan !== undefined ? { lan: str(o.lan, `${at}.lan`) } : {}),
  };
}

function randomFaults(v: unknown) {
  const o = object(v, 'randomFaults', ['count', 'kinds', 'maxForMs']);
  const given = list(o.kinds ?? FAULT_KINDS, 'randomFaults.kinds');
  if (given.length === 0) throw new ScenarioError('randomFaults.kinds: at least one kind');
  const kinds = given.map((k, i) => {
    if (!FAULT_KINDS.includes(k as FaultKind)) throw new ScenarioError(`randomFaults.kinds[${i}]: one of ${FAULT_KINDS.join(', ')}`);
    return k as FaultKind;
  });
  const maxForMs = o.maxForMs === undefined ? {} : { maxForMs: int(o.maxForMs, 'randomFaults.maxForMs', 1, 400 * DAY_MS) };
  return { count: int(o.count, 'randomFaults.count', 0, 1000), kinds, ...maxForMs };
}

function partial(v: unknown, peers: number) {
  const o = object(v, 'partial', ['count', 'filter', 'filters']);
  if ((o.filter === undefined) === (o.filters === undefined))
    throw new ScenarioError('partial: give filter, or filters (one per partial peer, in turn)');
  const filters = o.filters === undefined ? [o.filter] : list(o.filters, 'partial.filters');
  if (filters.length === 0) throw new ScenarioError('partial.filters: at least one filter');
  for (const [i, filter] of filters.entries()) {
    const at = o.filters === undefined ? 'partial.filter' : `partial.filters[${i}]`;
    try {
      SyncFilter.parse(filter);
    } catch (err) {
      if (err instanceof FilterError) throw new ScenarioError(`${at}: ${err.message}`);
      throw err;
    }
  }
  return { count: int(o.count ?? 1, 'partial.count', 0, peers), filters };
}

function session(v: unknown) {
  const o = object(v ?? {}, 'session', ['batchWindowMs', 'ackIntervalMs', 'backoffBaseMs', 'backoffCapMs']);
  return {
    batchWindowMs: int(o.batchWindowMs ?? DEFAULT_SESSION.batchWindowMs, 'session.batchWindowMs', 0, 60_000),
    ackIntervalMs: int(o.ackIntervalMs ?? DEFAULT_SESSION.ackIntervalMs, 'session.ackIntervalMs', 1, 3_600_000),
    backoffBaseMs: int(o.backoffBaseMs ?? DEFAULT_SESSION.backoffBaseMs, 'session.backoffBaseMs', 1, 3_600_000),
    backoffCapMs: int(o.backoffCapMs ?? DEFAULT_SESSION.backoffCapMs, 'session.backoffCapMs', 1, 3_600_000),
  };
}

function profile(v: unknown, fallback: LinkProfile, at: string): LinkProfile {
  const o = object(v ?? {}, at, ['latencyMs', 'jitterMs', 'jitter', 'loss', 'duplicate', 'reorder', 'bandwidthBytesPerMs']);
  const bandwidth = o.bandwidthBytesPerMs;
  const jitter = o.jitter ?? fallback.jitter ?? 'uniform';
  if (jitter !== 'uniform' && jitter !== 'exponential') throw new ScenarioError(`${at}.jitter: 'uniform' or 'exponential'`);
  return {
    jitter,
    latencyMs: num(o.latencyMs ?? fallback.latencyMs, `${at}.latencyMs`, 0, 60_000),
    jitterMs: num(o.jitterMs ?? fallback.jitterMs, `${at}.jitterMs`, 0, 60_000),
    loss: num(o.loss ?? fallback.loss, `${at}.loss`, 0, 0.5),
    duplicate: num(o.duplicate ?? fallback.duplicate, `${at}.duplicate`, 0, 0.5),
    reorder: num(o.reorder ?? fallback.reorder, `${at}.reorder`, 0, 0.5),
    ...(bandwidth !== undefined ? { bandwidthBytesPerMs: num(bandwidth, `${at}.bandwidthBytesPerMs`, 0.001, 1e9) } : {}),
  };
}

/** An object; with `keys`, one that has no other key (a misspelt key is an error, not ignored). */
function object(v: unknown, at: string, keys?: readonly string[]): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ScenarioError(`${at}: an object`);
  const unknown = keys ? Object.keys(v).find((k) => !keys.includes(k)) : undefined;
  if (unknown !== undefined) throw new ScenarioError(`${at}.${unknown}: unknown key (${keys?.join(', ')})`);
  return v as Record<string, unknown>;
}

function list(v: unknown, at: string): unknown[] {
  if (!Array.isArray(v)) throw new ScenarioError(`${at}: an array`);
  return v;
}

function str(v: unknown, at: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new ScenarioError(`${at}: a non-empty string`);
  return v;
}

function num(v: unknown, at: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new ScenarioError(`${at}: a number in [${min}, ${max}]`);
  return v;
}

function int(v: unknown, at: string, min: number, max: number): number {
  const n = num(v, at, min, max);
  if (!Number.isInteger(n)) throw new ScenarioError(`${at}: an integer`);
  return n;
}
