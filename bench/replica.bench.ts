/** Replica figures: how fast a replica applies remote single-field updates (W2's op shape). */
import { HybridClock } from '../src/clock/hlc.ts';
import type { NodeId } from '../src/identity/node-id.ts';
import type { Op } from '../src/ops/op.ts';
import { Replica } from '../src/replica/index.ts';
import { SeededRandom } from '../src/util/prng.ts';
import { type Benchmark, medianOf, timed } from './harness.ts';
import { NOW, priorityUpdates, randomId } from './workload.ts';

const RECORDS = 10_000;
const UPDATES = 100_000;

export const replicaBenchmark: Benchmark = {
  prefix: 'replica.',
  run() {
    const random = new SeededRandom(2);
    const ids = Array.from({ length: RECORDS }, () => randomId(random));
    const author = new Replica({ nodeId: randomId(random, 8) as NodeId, clock: new HybridClock({ wallClock: { now: () => NOW } }) });
    const inserts = ids.map((id) => author.insert('bugs', id, { title: 'Login broken', priority: 5, status: 'open' }));
    const updates: Op[] = priorityUpdates(UPDATES, ids, random);
    const seconds = medianOf(() => {
      const target = new Replica({ nodeId: randomId(random, 8) as NodeId, clock: new HybridClock({ wallClock: { now: () => NOW } }) });
      for (const op of inserts) target.apply(op);
      return timed(() => {
        for (const op of updates) target.apply(op);
      });
    }, 5);
    return [{ name: 'replica.apply_ops_per_s', value: Math.round(UPDATES / seconds), unit: 'ops/s' }];
  },
};
