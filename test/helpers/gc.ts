/** Helpers for GC tests: databases with a hand-moved wall clock, and sessions between them. */
import { BlazeDB, type OpenOptions } from '../../src/db/index.ts';
import type { SyncError } from '../../src/sync/errors.ts';
import { createPipe, databaseSource, SyncSession } from '../../src/sync/index.ts';
import { SeededRandom } from '../../src/util/prng.ts';
import { settle } from './sync.ts';

export const DAY = 24 * 3600 * 1000;

/** One wall clock for every database of a test, moved by hand. */
export function testClock() {
  const clock = { time: 1_800_000_000_000, now: () => clock.time };
  return clock;
}

let seed = 1000;

export async function openGcDb(clock: { now(): number }, options: OpenOptions = {}): Promise<BlazeDB> {
  return BlazeDB.open({
    storage: 'memory',
    dbId: 'gc',
    wallClock: clock,
    random: new SeededRandom(seed++),
    ...options,
    gc: { intervalMs: 0, ...options.gc },
  });
}

export interface Link {
  readonly mine: SyncSession;
  readonly theirs: SyncSession;
  close(): Promise<void>;
  closed: SyncError[];
}

/** A session between `a` and `b` over an in-memory pipe (b may be a relay); waits until quiet. */
export async function link(a: BlazeDB, b: BlazeDB, bRole: 'peer' | 'relay' = 'peer'): Promise<Link> {
  const [x, y] = createPipe();
  const mine = new SyncSession({ source: databaseSource(a), duplex: x });
  const theirs = new SyncSession({ source: databaseSource(b), duplex: y, role: bRole });
  const closed: SyncError[] = [];
  mine.onClose((reason) => closed.push(reason));
  mine.start();
  theirs.start();
  await settle();
  return {
    mine,
    theirs,
    closed,
    async close() {
      mine.close();
      await settle();
    },
  };
}
