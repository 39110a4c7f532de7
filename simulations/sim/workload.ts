/**
 * The seeded workload: each peer writes a random mix of inserts, updates of every field kind and
 * deletes over the active phase (exponential gaps), on a shared set of records with hot keys.
 * Every write goes through the real database API; what it wrote is remembered for the lost-write
 * check.
 */
import type { BlazeDB } from '../../src/db/index.ts';
import { IdentityReusedError } from '../../src/errors.ts';
import type { SeededRandom } from '../../src/util/prng.ts';
import type { Workload } from './scenario.ts';

export const COLLECTION = 'items';
export const STRATEGIES = { votes: 'counter', tags: 'set', owner: 'mv' } as const;
const TAGS = ['a', 'b', 'c', 'd'];
const OWNERS = ['ann', 'bob', 'cid'];

/** A write that committed locally (`local-durable`): its dot. */
export interface Written {
  readonly node: string;
  readonly seq: number;
  /** The simulated device that wrote it. */
  readonly device: string;
}

/** Writes one random op on `db`; returns its dot, or undefined if the write was refused. */
export function writeOne(db: BlazeDB, random: SeededRandom, w: Workload, device: string): Written | undefined {
  const engine = db.engine;
  const hot = Math.max(1, Math.floor(w.records / 5));
  const index = random.float() < w.hotShare ? random.int(hot) : random.int(w.records);
  const id = `r${index}`;
  const exists = engine.readDoc(COLLECTION, id) !== undefined;
  const roll = random.int(100);
  const replica = engine.replica;
  try {
    const op = engine.write(() => {
      if (!exists || roll < 5) {
        const fields = {
          title: `t${random.int(1000)}`,
          votes: random.int(5),
          tags: [TAGS[random.int(4)] as string],
          owner: OWNERS[random.int(3)] as string,
        };
        return engine.local(replica.insert(COLLECTION, id, fields));
      }
      if (roll < 40) return engine.local(replica.update(COLLECTION, id, { title: `t${random.int(1000)}` }));
      if (roll < 60) return engine.local(replica.increment(COLLECTION, id, 'votes', random.int(7) - 2));
      if (roll < 72) return engine.local(replica.addToSet(COLLECTION, id, 'tags', TAGS[random.int(4)] as string));
      if (roll < 82) return engine.local(replica.removeFromSet(COLLECTION, id, 'tags', TAGS[random.int(4)] as string));
      if (roll < 92) return engine.local(replica.update(COLLECTION, id, { owner: OWNERS[random.int(3)] as string }));
      if (roll < 96) return engine.local(replica.update(COLLECTION, id, { status: random.int(2) === 0 ? 'open' : 'closed' }));
      return engine.local(replica.delete(COLLECTION, id));
    });
    return { node: op.node, seq: op.seq, device };
  } catch (err) {
    // A restored or cloned device learns its id is in use elsewhere: the app takes a new one.
    if (err instanceof IdentityReusedError) {
      void db.renewIdentity();
      return undefined;
    }
    throw err;
  }
}

/** Declares the workload's field strategies (every device does; the declarations merge). */
export function declare(db: BlazeDB): void {
  const engine = db.engine;
  engine.write(() => engine.local(engine.replica.declare(COLLECTION, STRATEGIES)));
}
