/** Replicas with hand-driven wall clocks, for merge tests. */
import { HybridClock } from '../../src/clock/hlc.ts';
import type { NodeId } from '../../src/identity/node-id.ts';
import { Replica } from '../../src/replica/index.ts';

export interface TestReplica {
  replica: Replica;
  wall: { time: number; now(): number };
}

/** A replica named by a 16-hex-char id (e.g. `node('a')` gives 'aaaaaaaaaaaaaaaa'). */
export function node(letter: string): NodeId {
  return letter.repeat(16).slice(0, 16) as NodeId;
}

export function makeReplica(nodeId: NodeId, start = 1_800_000_000_000): TestReplica {
  const wall = { time: start, now: () => wall.time };
  const replica = new Replica({ nodeId, clock: new HybridClock({ wallClock: wall, maxDriftMs: 10 * 365 * 86_400_000 }) });
  return { replica, wall };
}
