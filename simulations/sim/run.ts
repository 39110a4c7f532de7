import { createHash } from 'node:crypto';
import { HybridClock } from '../../src/clock/hlc.ts';
import { compareStamps } from '../../src/clock/stamp.ts';
/**
 * One simulation run: builds the nodes of a scenario, runs the workload and the faults in
 * virtual time, heals everything, and checks the invariants (docs/simulator.md):
 * convergence within a stated bound (liveness), no lost acknowledged write, no resurrected
 * delete, bounded buffers. Same scenario + seed = same trace, byte for byte.
 */
import { decodeOp, encodeOp } from '../../src/codec/index.ts';
import type { NodeId } from '../../src/identity/node-id.ts';
import type { Op } from '../../src/ops/op.ts';
import { Replica } from '../../src/replica/index.ts';
import { DEFAULT_MAX_FRAME_BYTES } from '../../src/sync/constants.ts';
import type { SyncFilter } from '../../src/sync/filter.ts';
import { SeededRandom } from '../../src/util/prng.ts';
import { planFaults, type ScheduledFault } from './faults.ts';
import { HIGH_WATER_BYTES, Network } from './network.ts';
import { type Role, SimNode } from './node.ts';
import type { Scenario } from './scenario.ts';
import { COLLECTION, declare, type Written, writeOne } from './workload.ts';
import { World } from './world.ts';

/** A write and when it was made. */
type Timed = Written & { readonly at: number };

export interface Sample {
  readonly t: number;
  /** Ops each up node lacks of what the most advanced node holds, summed. */
  readonly behind: number;
  readonly bytes: number;
  /** Op-log size per node id. */
  readonly logSize: Record<string, number>;
}

export interface Violation {
  readonly invariant: string;
  readonly at: number;
  /** Events run before it (the step). */
  readonly step: number;
  readonly detail: string;
  readonly nodes: readonly string[];
  readonly lastEvents: readonly string[];
}

export interface RunResult {
  readonly scenario: string;
  readonly seed: number;
  readonly traceHash: string;
  readonly converged: boolean;
  /** Virtual ms from the final heal to convergence. */
  readonly convergenceMs: number | undefined;
  /** The liveness bound: 10 x (max link latency + ack interval + backoff cap). */
  readonly boundMs: number;
  readonly opsWritten: number;
  /** local-durable writes lost with a device that never synced them (expected, counted). */
  readonly expectedLosses: number;
  readonly bytesPerOp: number;
  readonly maxLogSize: number;
  readonly faults: readonly ScheduledFault[];
  /** Virtual time of the final heal. */
  readonly healAt: number;
  readonly violations: readonly Violation[];
  readonly samples: readonly Sample[];
  readonly virtualMs: number;
  readonly events: number;
  readonly network: Network['stats'];
}

export interface RunOptions {
  /** Replace the peer count. */
  peers?: number;
  /** Test hook: wraps each node after it starts (the planted-bug test breaks one on purpose). */
  tamper?: (node: SimNode, world: World) => void;
  /** Keep every trace line (for a failing run's report); the hash is computed either way. */
  keepTrace?: boolean;
  /** Called with every trace line as it is written (debugging a seed). */
  onTrace?: (line: string) => void;
  /** Called with every sample (a long run's progress). */
  onSample?: (sample: Sample, opsWritten: number) => void;
}

/** Samples per run for the charts (and the buffer check). */
const SAMPLES = 200;
const CHECK_EVERY_MS = 100;
/** Violations kept per run (the first says the most). */
const MAX_VIOLATIONS = 20;

export function runScenario(scenario: Scenario, seed: number, options: RunOptions = {}): RunResult {
  const world = new World(seed);
  const network = new Network(world);
  const trace = new Trace(options.keepTrace ?? false);
  const log = (line: string) => {
    const timed = `${world.now.toFixed(3)} ${line}`;
    trace.add(timed);
    options.onTrace?.(timed);
  };
  const directory = new Map<string, SimNode>();
  const peers = options.peers ?? scenario.peers;
  const relays = Array.from({ length: scenario.relays }, (_, i) => `relay${i}`);
  const lanOf = (i: number) => (scenario.lanSegments > 0 ? `lan${i % scenario.lanSegments}` : undefined);
  const partialFrom = peers - (scenario.partial?.count ?? 0);
  /** Node ids of the relays (their own writes are judged by no one). */
  const relayIds = new Set<string>();
  const refused = refusedBy(scenario.writeRules?.refusePercent ?? 0, relayIds);
  const judge = scenario.writeRules ? (op: Op) => !refused(op) : undefined;
  const make = (id: string, role: Role, i: number) => {
    const node = new SimNode({
      id,
      role,
      world,
      network,
      dbId: 'sim',
      directory,
      relays,
      profile: (a, b) => (a.lan !== undefined && a.lan === b.lan ? scenario.links.lan : scenario.links.wan),
      sessionOptions: scenario.session,
      gc: scenario.gc,
      ...(role === 'peer' && i >= partialFrom && scenario.partial
        ? { filter: scenario.partial.filters[(i - partialFrom) % scenario.partial.filters.length] }
        : {}),
      ...(role === 'relay' && judge ? { judge } : {}),
      trace: log,
    });
    node.lan = role === 'peer' ? lanOf(i) : undefined;
    node.homeLan = node.lan;
    directory.set(id, node);
    return node;
  };
  for (const [i, id] of relays.entries()) make(id, 'relay', i);
  for (let i = 0; i < peers; i++) make(`p${i}`, 'peer', i);

  const written: Timed[] = [];
  const relayHeld = new Map<string, number>();
  /** Per origin: the highest seq held by some full replica other than the device that wrote it. */
  const heldElsewhere = new Map<string, number>();
  const deviceOf = new Map<string, string>();
  /** Sample times at which each device had a live sync session. */
  const onlineAt = new Map<string, number[]>();
  const violations: Violation[] = [];
  const fail = (invariant: string, detail: string, nodes: string[] = []) => {
    if (violations.length < MAX_VIOLATIONS)
      violations.push({ invariant, at: world.now, step: world.eventsRun, detail, nodes, lastEvents: trace.last(30) });
  };

  // Every op any device wrote, encoded, by dot: the model's source once compaction removed ops
  // from the logs.
  const archive = new Map<string, Uint8Array>();
  /** Members some announcement evicted: they may lack compacted ops (they come back by snapshot). */
  const everEvicted = new Set<string>();
  const startNode = (node: SimNode) => {
    node.start();
    options.tamper?.(node, world);
    node.db.engine.onOps((ops, source) => {
      if (source === undefined) for (const op of ops) archive.set(`${op.node}:${op.seq}`, encodeOp(op));
    });
    node.db.onSnapshotProgress((p) => p.done && log(`${node.id} applied a snapshot of ${p.records} records from ${p.peer}`));
    log(`${node.id} up as ${node.db.nodeId}`);
    if (node.role === 'relay') relayIds.add(node.db.nodeId);
  };
  for (const node of directory.values()) {
    startNode(node);
    declare(node.db);
  }
  for (const node of directory.values()) node.rediscover();

  // Workload: exponential gaps, spread over the active phase.
  const workloadRandom = new SeededRandom(world.random.u32());
  const startWorkload = (node: SimNode) => {
    const rate = scenario.workload.perPeer[node.id] ?? scenario.workload.opsPerPeer;
    if (node.role !== 'peer' || rate === 0) return;
    const mean = scenario.activeMs / rate;
    const next = () => {
      const gap = -Math.log(1 - workloadRandom.float()) * mean;
      if (world.now + gap >= scenario.activeMs) return;
      world.after(gap, () => {
        if (node.writable) {
          const w = writeOne(node.db, workloadRandom, scenario.workload, node.id);
          if (w) {
            written.push({ ...w, at: world.now });
            if (!deviceOf.has(w.node)) deviceOf.set(w.node, w.device);
            log(`${node.id} wrote ${w.node}:${w.seq}`);
          }
        }
        next();
      });
    };
    next();
  };
  for (const node of directory.values()) startWorkload(node);

  // Daily syncs: each peer is on the network for its window of every period, else offline.
  const online = scenario.online;
  if (online) {
    for (const node of directory.values()) {
      if (node.role !== 'peer') continue;
      network.setOffline(node.id, true);
      const cycle = (at: number) => {
        if (at >= scenario.activeMs) return;
        world.after(at - world.now, () => {
          network.setOffline(node.id, false);
          log(`${node.id} online`);
          world.after(online.windowMs, () => {
            if (world.now < scenario.activeMs) network.setOffline(node.id, true);
            log(`${node.id} offline`);
          });
          cycle(at + online.periodMs);
        });
      };
      cycle(world.random.float() * online.periodMs);
    }
  }

  // Faults.
  const faults = planFaults({
    scenario,
    world,
    network,
    directory,
    log,
    start: startNode,
    adopt: (node) => {
      startNode(node);
      startWorkload(node);
    },
  });

  // Periodic checks and samples while running.
  const samples: Sample[] = [];
  const bufferBound = HIGH_WATER_BYTES + DEFAULT_MAX_FRAME_BYTES;
  const sample = () => {
    const up = [...directory.values()].filter((n) => n.up);
    const best = new Map<string, number>();
    for (const n of up) for (const [o, s] of n.db.engine.replica.version.toMap()) best.set(o, Math.max(best.get(o) ?? 0, s));
    let behind = 0;
    const logSize: Record<string, number> = {};
    for (const n of up) {
      if (n.reachablePeers().some((peer) => !directory.get(peer)?.init.filter)) {
        const times = onlineAt.get(n.id) ?? [];
        times.push(world.now);
        onlineAt.set(n.id, times);
      }
      const v = n.db.engine.replica.version;
      if (!n.init.filter) for (const [o, s] of best) behind += s - v.get(o as NodeId);
      logSize[n.id] = n.db.engine.storage.opCount();
      for (const [o, s] of v.toMap()) {
        if (n.role === 'relay') relayHeld.set(o, Math.max(relayHeld.get(o) ?? 0, s));
        // Only full replicas count: a partial one passes on no one's writes but its own.
        if (!n.init.filter && deviceOf.get(o) !== n.id && s > (heldElsewhere.get(o) ?? 0)) heldElsewhere.set(o, s);
      }
    }
    samples.push({ t: world.now, behind, bytes: network.stats.bytesSent, logSize });
    options.onSample?.(samples.at(-1) as Sample, written.length);
    if (scenario.gc.enabled) checkGcSafety(up);
    if (network.maxInFlight > bufferBound)
      fail('bounded-buffers', `a link holds ${network.maxInFlight} bytes in flight (bound ${bufferBound})`);
  };
  // GC safety: whatever frontier a node compacts to, every live member (never evicted, not
  // restored from a backup) holds it. Checked at every sample, on every node's frontier.
  const checkGcSafety = (up: readonly SimNode[]) => {
    const byNodeId = new Map(up.map((n) => [n.db.nodeId as string, n]));
    for (const n of up) for (const id of n.db.gcCollector.state.latest?.evicted ?? []) everEvicted.add(id);
    const home = directory.get(relays[0] ?? '');
    if (!home?.up) return;
    for (const n of up) {
      const frontier = n.db.gcCollector.state.frontier;
      for (const member of home.db.gcCollector.state.members()) {
        const m = byNodeId.get(member.id);
        if (!m || everEvicted.has(member.id) || faults.lossWindows.has(m.id)) continue;
        const v = m.db.engine.replica.version;
        for (const [origin, seq] of frontier) {
          if (v.get(origin) < seq) {
            fail('gc-safety', `${n.id} may compact ${origin} through ${seq}, but live member ${m.id} holds only ${v.get(origin)}`, [
              n.id,
              m.id,
            ]);
            return;
          }
        }
      }
    }
  };
  const sampler = () => {
    sample();
    world.after(Math.max(1, scenario.activeMs / SAMPLES), sampler);
  };
  world.after(0, sampler);

  // Active phase, then the final heal: faults stop, everything comes back.
  world.run(scenario.activeMs, () => violations.length > 0);
  const healAt = world.now;
  network.healAll();
  for (const node of directory.values()) {
    if (faults.goneForever.has(node.id)) continue;
    // Clock skew stays: convergence must not depend on clocks agreeing.
    if (!node.up) startNode(node);
    node.lan = node.homeLan;
  }
  for (const node of directory.values()) if (node.up) node.rediscover();
  log('final heal');

  const maxLatency = Math.max(
    scenario.links.lan.latencyMs + scenario.links.lan.jitterMs,
    scenario.links.wan.latencyMs + scenario.links.wan.jitterMs,
  );
  const boundMs = 10 * (maxLatency + scenario.session.ackIntervalMs + scenario.session.backoffCapMs);
  let convergedAt: number | undefined;
  const live = () => [...directory.values()].filter((n) => n.up && !faults.goneForever.has(n.id));
  const converged = () => {
    const full = live().filter((n) => !n.init.filter);
    const first = full[0];
    if (!first) return true;
    const vv = vectorKey(first);
    for (const n of full) {
      if (vectorKey(n) !== vv) return false;
      for (const s of n.sessions) if (s.state !== 'syncing') return false;
    }
    for (const n of live().filter((x) => x.init.filter)) if (n.sessionCount === 0) return false;
    return true;
  };
  const until = healAt + boundMs;
  while (world.now < until && violations.length === 0) {
    world.run(Math.min(until, world.now + CHECK_EVERY_MS), () => violations.length > 0);
    if (converged()) {
      // Quiet for a moment: acknowledgements and partial replicas settle too.
      world.run(world.now + 2 * maxLatency + scenario.session.batchWindowMs + 10);
      if (converged() && statesAgree(live()) === undefined) {
        convergedAt = world.now;
        break;
      }
    }
  }
  sample();
  if (convergedAt === undefined && violations.length === 0) {
    const disagreement = statesAgree(live()) ?? 'version vectors differ';
    fail(
      'convergence',
      `not converged ${boundMs} ms after the final heal: ${disagreement}`,
      live().map((n) => n.id),
    );
  }

  // End checks: the model (every op held, folded from scratch) against every replica.
  // A write may be lost only with its device (gone, or restored from an older backup), only if
  // it was made before that, if no other full replica ever held it, and if the device was not
  // online (a live session with a full replica) between the write plus a sync's time and its
  // loss: a device that was online and still did not pass a write on has a bug, not bad luck.
  const grace =
    2 * (scenario.links.wan.latencyMs + scenario.links.wan.jitterMs + scenario.session.batchWindowMs) + 2 * (scenario.activeMs / SAMPLES);
  const mayBeLost = (w: Timed) => {
    // The first loss after the write is what could destroy it (a restore, then going for good:
    // a write the restore wiped is not on the device when it comes back online).
    const until = faults.lossWindows.get(w.device)?.find((t) => t >= w.at);
    if (until === undefined || (heldElsewhere.get(w.node) ?? 0) >= w.seq) return false;
    return !(onlineAt.get(w.device) ?? []).some((t) => t >= w.at + grace && t <= until);
  };
  if (violations.length === 0) checkFinal(live(), written, relayHeld, mayBeLost, archive, refused, fail);
  const reference = live().find((n) => !n.init.filter);
  const expectedLosses = reference
    ? written.filter((w) => mayBeLost(w) && !reference.db.engine.replica.version.has(w.node as NodeId, w.seq)).length
    : 0;
  log(`end converged=${convergedAt !== undefined}`);
  const maxLogSize = Math.max(0, ...samples.flatMap((s) => Object.values(s.logSize)));
  return {
    scenario: scenario.name,
    seed,
    traceHash: trace.hash(),
    converged: convergedAt !== undefined,
    convergenceMs: convergedAt === undefined ? undefined : convergedAt - healAt,
    boundMs,
    opsWritten: written.length,
    expectedLosses,
    bytesPerOp: written.length > 0 ? network.stats.bytesSent / written.length : 0,
    maxLogSize,
    faults: faults.scheduled,
    healAt,
    violations,
    samples,
    virtualMs: world.now,
    events: world.eventsRun,
    network: { ...network.stats },
  };
}

/** Undefined when every live full replica shows the same records, else what differs. */
function statesAgree(nodes: readonly SimNode[]): string | undefined {
  const full = nodes.filter((n) => !n.init.filter);
  const first = full[0];
  if (!first) return undefined;
  const expected = snapshotOf(first);
  for (const n of full) if (snapshotOf(n) !== expected) return `${n.id} and ${first.id} hold different records`;
  // Partial replicas: exactly their filter of the full replicas' records.
  for (const n of nodes) {
    if (!n.init.filter) continue;
    if (snapshotOf(n) !== snapshotOf(first, n.db.engine.filter)) return `${n.id} does not hold exactly its filter of ${first.id}'s records`;
  }
  return undefined;
}

function vectorKey(node: SimNode): string {
  return node.db.engine.replica.version
    .entries()
    .map(([n, s]) => `${n}:${s}`)
    .join(',');
}

/** A node's records, canonical; through `filter` (what a partial replica should show). */
function snapshotOf(node: SimNode, filter?: SyncFilter): string {
  let records = node.db.engine.find(COLLECTION, { op: 'and', items: [] }, { sort: [], limit: Number.POSITIVE_INFINITY, offset: 0 });
  if (filter)
    records = records
      .filter((r) => filter.matches(COLLECTION, r.doc))
      .map((r) => ({ id: r.id, doc: strip(r.doc, filter) as typeof r.doc }));
  records.sort((a, b) => (a.id < b.id ? -1 : 1));
  return JSON.stringify(records.map((r) => [r.id, sortKeys(r.doc)]));
}

function checkFinal(
  nodes: readonly SimNode[],
  written: readonly Timed[],
  relayHeld: ReadonlyMap<string, number>,
  mayBeLost: (w: Timed) => boolean,
  archive: ReadonlyMap<string, Uint8Array>,
  refused: (op: Op) => boolean,
  fail: (invariant: string, detail: string, nodes?: string[]) => void,
): void {
  const full = nodes.filter((n) => !n.init.filter);
  const reference = full[0];
  if (!reference) return;
  // No lost write: what a relay held is on every full replica; so is every local write of a
  // device that was not lost.
  for (const n of full) {
    const v = n.db.engine.replica.version;
    for (const [origin, seq] of relayHeld) {
      if (v.get(origin as NodeId) < seq)
        fail('no-lost-write', `${n.id} lacks ${origin}:${seq}, which a relay held (relay-durable)`, [n.id]);
    }
    for (const w of written) {
      if (!mayBeLost(w) && !v.has(w.node as NodeId, w.seq))
        fail('no-lost-write', `${n.id} lacks ${w.node}:${w.seq} written on ${w.device}`, [n.id, w.device]);
    }
  }
  // The model: every op the reference holds, folded from scratch in a fresh replica.
  const model = new Replica({ nodeId: 'ffffffffffffffff' as NodeId, clock: new HybridClock({ wallClock: { now: () => 0 } }) });
  const ops: Op[] = [];
  for (const [origin, seq] of reference.db.engine.replica.version.toMap()) {
    for (let i = 1; i <= seq; i++) {
      const encoded = archive.get(`${origin}:${i}`);
      if (!encoded) continue;
      const op = decodeOp(encoded);
      // Write rules: a refused op is void on every replica, applied nowhere, its op in no log.
      if (!refused(op)) {
        ops.push(op);
        continue;
      }
      for (const n of nodes) {
        if (!n.db.engine.isVoid(op.node, op.seq) || n.db.engine.storage.getOp(op.node, op.seq) !== undefined) {
          fail('void', `${n.id} does not hold ${op.node}:${op.seq} as void, which the relays refused`, [n.id]);
          return;
        }
      }
    }
  }
  for (const op of ops) model.apply(op);
  const byRecord = new Map<string, Op[]>();
  for (const op of ops) {
    if (op.collection !== COLLECTION) continue;
    const list = byRecord.get(op.record) ?? [];
    list.push(op);
    byRecord.set(op.record, list);
  }
  for (const [id, recordOps] of byRecord) {
    const expected = model.get(COLLECTION, id);
    for (const n of nodes) {
      const filter = n.db.engine.filter;
      let want: Record<string, unknown> | undefined = expected;
      if (filter) want = filter.matches(COLLECTION, expected) && expected ? strip(expected, filter) : undefined;
      const got = n.db.engine.readDoc(COLLECTION, id);
      if (JSON.stringify(sortKeys(got)) !== JSON.stringify(sortKeys(want))) {
        fail('model', `${n.id} shows ${COLLECTION}/${id} as ${JSON.stringify(got)}, the merge of every op gives ${JSON.stringify(want)}`, [
          n.id,
        ]);
        return;
      }
    }
    // No resurrected delete, judged from the ops alone (not from the merge code it checks): a
    // record some replica shows needs an insert op stamped after its latest delete op.
    const latest = (kind: string) =>
      recordOps.filter((op) => op.kind === kind).reduce<Op | undefined>((a, b) => (!a || compareStamps(b, a) > 0 ? b : a), undefined);
    const lastDelete = latest('delete');
    const lastInsert = latest('insert');
    if (lastDelete && !(lastInsert && compareStamps(lastInsert, lastDelete) > 0)) {
      const showing = nodes.filter((n) => n.db.engine.readDoc(COLLECTION, id) !== undefined).map((n) => n.id);
      if (showing.length > 0)
        fail('no-resurrection', `${COLLECTION}/${id} is deleted with no insert after it, yet ${showing.join(', ')} show it`, showing);
    }
  }
}

function strip(doc: Record<string, unknown>, filter: SyncFilter): Record<string, unknown> {
  const excluded = filter.excluded(COLLECTION);
  return Object.fromEntries(Object.entries(doc).filter(([k]) => !excluded.has(k)));
}

function sortKeys(doc: Record<string, unknown> | undefined): unknown {
  return doc === undefined ? null : Object.fromEntries(Object.entries(doc).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** The run's trace: hashed as it goes (SHA-256), the tail kept for reports. */
class Trace {
  readonly #hash = createHash('sha256');
  readonly #keepAll: boolean;
  readonly #lines: string[] = [];

  constructor(keepAll: boolean) {
    this.#keepAll = keepAll;
  }

  add(line: string): void {
    this.#hash.update(line);
    this.#hash.update('\n');
    this.#lines.push(line);
    if (!this.#keepAll && this.#lines.length > 200) this.#lines.splice(0, 100);
  }

  last(n: number): string[] {
    return this.#lines.slice(-n);
  }

  /** The first 16 hex digits of the digest. */
  hash(): string {
    return this.#hash.copy().digest('hex').slice(0, 16);
  }
}

/**
 * The simulated write rules: a device's op is refused when a hash of its dot falls under the
 * share, so every relay judges it alike and the checks know the verdict without asking any
 * replica. A relay's own writes are judged by no one (a real relay takes from a device only the
 * device's own writes, docs/relay.md).
 */
function refusedBy(percent: number, relayIds: ReadonlySet<string>): (op: Op) => boolean {
  if (percent <= 0) return () => false;
  return (op) => {
    if (relayIds.has(op.node)) return false;
    let h = 2166136261 ^ op.seq;
    for (let i = 0; i < op.node.length; i++) h = Math.imul(h ^ op.node.charCodeAt(i), 16777619);
    return (h >>> 0) % 100 < percent;
  };
}
