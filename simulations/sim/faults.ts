/**
 * Faults: the scenario's own, plus random ones drawn from the seed, scheduled on the world.
 * Each undoes itself after `forMs` (or at the final heal). Ranges follow the reliability notes:
 * partitions of any shape (islands, relay unreachable, one-way), crashes and restarts, clock
 * skew up to +-24 h including backward jumps, LAN moves, devices gone forever, restores from an
 * old backup and cloned devices.
 */
import type { NodeId } from '../../src/identity/node-id.ts';
import type { MemoryStorage } from '../../src/storage/index.ts';
import type { Network } from './network.ts';
import type { SimNode } from './node.ts';
import { FAULT_KINDS, type Fault, type FaultKind, type Scenario, ScenarioError } from './scenario.ts';
import type { World } from './world.ts';

export interface ScheduledFault {
  readonly at: number;
  readonly until: number;
  readonly kind: FaultKind;
  readonly nodes: readonly string[];
  readonly detail: string;
}

export interface FaultPlan {
  readonly scheduled: ScheduledFault[];
  /** Devices that left for good (their unsynced writes are expected losses). */
  readonly goneForever: Set<string>;
  /**
   * Per device, the times its unsynced writes could be lost (nobody else held them): when it
   * left for good, and each restore from a backup; a write is at risk from the first after it.
   */
  readonly lossWindows: Map<string, number[]>;
}

const DAY_MS = 24 * 3600 * 1000;

export interface FaultContext {
  readonly scenario: Scenario;
  readonly world: World;
  readonly network: Network;
  readonly directory: Map<string, SimNode>;
  readonly log: (line: string) => void;
  /** Starts (or restarts) a node. */
  readonly start: (node: SimNode) => void;
  /** Starts a new device (a clone) with its own workload. */
  readonly adopt: (node: SimNode) => void;
}

export function planFaults(context: FaultContext): FaultPlan {
  const { scenario, world, network, directory, log, start, adopt } = context;
  const nodes = [...directory.values()];
  const plan: FaultPlan = { scheduled: [], goneForever: new Set(), lossWindows: new Map() };
  const noteLoss = (id: string) => plan.lossWindows.set(id, [...(plan.lossWindows.get(id) ?? []), world.now]);
  /** Overlapping crashes of one node: it comes back when the last one ends. */
  const crashes = new Map<string, number>();
  for (const fault of scenario.faults) {
    for (const id of fault.nodes ?? [])
      if (!directory.has(id)) throw new ScenarioError(`a ${fault.kind} fault names '${id}', which this run does not have`);
  }
  const random = world.random;
  const peers = nodes.filter((n) => n.role === 'peer');
  const relays = nodes.filter((n) => n.role === 'relay');
  const faults: Fault[] = [...scenario.faults];
  for (let i = 0; i < (scenario.randomFaults?.count ?? 0); i++) {
    const kinds = scenario.randomFaults?.kinds ?? FAULT_KINDS;
    const kind = kinds[random.int(kinds.length)] as FaultKind;
    // Everything a fault does happens inside the active phase.
    const at = Math.floor(random.float() * scenario.activeMs * 0.8);
    // Up to 40% of the active phase, or `maxForMs` (a year's faults are hours, not months).
    const longest = Math.min(scenario.activeMs * 0.4, scenario.randomFaults?.maxForMs ?? Number.POSITIVE_INFINITY);
    const forMs = Math.max(1, Math.min(Math.floor(random.float() * longest), scenario.activeMs - at - 1));
    faults.push(randomFault(kind, at, forMs, peers, relays, random));
  }
  faults.sort((a, b) => a.at - b.at);
  for (const fault of faults) {
    world.after(fault.at, () => apply(fault));
  }

  function byId(id: string): SimNode | undefined {
    return directory.get(id);
  }

  function record(fault: Fault, nodesHit: string[], detail: string): void {
    const until = fault.forMs !== undefined ? fault.at + fault.forMs : scenario.activeMs;
    plan.scheduled.push({ at: fault.at, until, kind: fault.kind, nodes: nodesHit, detail });
    log(`fault ${fault.kind} ${nodesHit.join(',')} ${detail}`);
  }

  function later(fault: Fault, undo: () => void): void {
    if (fault.forMs !== undefined) world.after(fault.forMs, undo);
  }

  function apply(fault: Fault): void {
    const named = (fault.nodes ?? []).map(byId).filter((n): n is SimNode => n !== undefined);
    switch (fault.kind) {
      case 'partition':
      case 'asymmetric': {
        const group = new Set(named.map((n) => n.id));
        const oneWay = fault.kind === 'asymmetric';
        const pairs: [string, string][] = [];
        for (const a of group) for (const b of directory.keys()) if (!group.has(b)) pairs.push([a, b]);
        for (const [a, b] of pairs) network.block(a, b, oneWay);
        record(fault, [...group], oneWay ? 'one way: their frames do not get out' : 'cut from the rest');
        later(fault, () => {
          for (const [a, b] of pairs) network.unblock(a, b, oneWay);
          log(`heal ${fault.kind} ${[...group].join(',')}`);
        });
        return;
      }
      case 'relay-outage':
      case 'crash': {
        for (const n of named) {
          if (plan.goneForever.has(n.id)) continue;
          crashes.set(n.id, (crashes.get(n.id) ?? 0) + 1);
          n.crash();
        }
        record(
          fault,
          named.map((n) => n.id),
          '',
        );
        later(fault, () => {
          for (const n of named) {
            const left = (crashes.get(n.id) ?? 1) - 1;
            crashes.set(n.id, left);
            if (left === 0 && !n.up && !plan.goneForever.has(n.id)) start(n);
          }
          for (const n of directory.values()) n.rediscover();
        });
        for (const n of directory.values()) n.rediscover();
        return;
      }
      case 'skew': {
        const before = named.map((n) => n.skewMs);
        for (const n of named) n.skewMs = fault.skewMs ?? 0;
        record(
          fault,
          named.map((n) => n.id),
          `clock ${fault.skewMs ?? 0} ms`,
        );
        later(fault, () => {
          // Back to what it was: a backward jump when the skew was ahead.
          for (const [i, n] of named.entries()) n.skewMs = before[i] as number;
        });
        return;
      }
      case 'lan-move': {
        for (const n of named) n.lan = fault.lan;
        record(
          fault,
          named.map((n) => n.id),
          `to ${fault.lan ?? 'no LAN'}`,
        );
        for (const n of directory.values()) n.rediscover();
        return;
      }
      case 'gone': {
        for (const n of named) {
          n.crash();
          plan.goneForever.add(n.id);
          noteLoss(n.id);
        }
        record(
          fault,
          named.map((n) => n.id),
          'never comes back',
        );
        for (const n of directory.values()) n.rediscover();
        return;
      }
      case 'backup-restore': {
        // A backup is taken now and restored later: what the device wrote in between and did
        // not sync is lost (counted), and its id is now in use beyond its store: it must notice.
        const backups = named.filter((n) => n.up).map((n) => ({ node: n, backup: n.storage.snapshot() }));
        record(
          fault,
          backups.map((b) => b.node.id),
          `restored after ${fault.forMs ?? 0} ms`,
        );
        world.after(fault.forMs ?? 1, () => {
          for (const { node, backup } of backups) {
            if (plan.goneForever.has(node.id)) continue;
            node.crash();
            node.storage = backup;
            node.mustSyncBeforeWriting = true;
            noteLoss(node.id);
            start(node);
            log(`restore ${node.id}`);
          }
          for (const n of directory.values()) n.rediscover();
        });
        return;
      }
      case 'clone': {
        // A copy of a device's store starts as a second device later, once the original has
        // written and synced past the copy: the copy must see its id in use and take a new one.
        const source = named.find((n) => n.up);
        if (!source) return;
        const copy: MemoryStorage = source.storage.snapshot();
        const copiedSeq = source.db.engine.replica.lastSeq;
        const originalId = source.db.nodeId as NodeId;
        record(fault, [source.id], 'copied');
        world.after(fault.forMs ?? 1, () => {
          const relayKnows = relays.some((r) => r.up && r.db.engine.replica.version.get(originalId) > copiedSeq);
          if (!relayKnows) {
            log(`clone of ${source.id} not started: no relay holds the original past the copy`);
            return;
          }
          const id = `${source.id}-clone${plan.scheduled.length}`;
          const clone = source.cloneAs(id, copy);
          clone.mustSyncBeforeWriting = true;
          directory.set(id, clone);
          adopt(clone);
          for (const n of directory.values()) n.rediscover();
          log(`clone ${id} of ${source.id} started`);
        });
        return;
      }
    }
  }
  return plan;
}

function randomFault(kind: FaultKind, at: number, forMs: number, peers: SimNode[], relays: SimNode[], random: World['random']): Fault {
  const pick = (list: SimNode[], n: number) => {
    const copy = [...list];
    const out: string[] = [];
    while (out.length < n && copy.length > 0) out.push((copy.splice(random.int(copy.length), 1)[0] as SimNode).id);
    return out;
  };
  const somePeers = () => pick(peers, 1 + random.int(Math.max(1, Math.floor(peers.length / 2))));
  switch (kind) {
    case 'partition':
      return { at, kind, forMs, nodes: random.int(2) === 0 ? somePeers() : [...somePeers(), ...pick(relays, 1)] };
    case 'asymmetric':
      return { at, kind, forMs, nodes: somePeers() };
    case 'relay-outage':
      return relays.length > 0 ? { at, kind, forMs, nodes: pick(relays, 1) } : { at, kind: 'crash', forMs, nodes: pick(peers, 1) };
    case 'crash':
      return { at, kind, forMs, nodes: pick(peers, 1) };
    case 'skew':
      return { at, kind, forMs, nodes: pick(peers, 1), skewMs: Math.floor((random.float() * 2 - 1) * DAY_MS) };
    case 'lan-move':
      return { at, kind, nodes: pick(peers, 1), lan: random.int(3) === 0 ? 'elsewhere' : `lan${random.int(2)}` };
    case 'gone':
      return { at, kind, nodes: pick(peers, 1) };
    case 'backup-restore':
      return { at, kind, forMs, nodes: pick(peers, 1) };
    case 'clone':
      return { at, kind, forMs, nodes: pick(peers, 1) };
  }
}
