/**
 * The comparison's seeded data (../shared/bench/WORKLOADS.md): every library gets the same
 * records, updates and edits from the same seed, and its state is compared as plain records.
 */
import { createHash } from 'node:crypto';
import { SeededRandom } from '../../src/util/prng.ts';
import { randomId, w1Record } from '../workload.ts';

/** A W1 record as every library stores it: `tags` is a set, `viewCount` a counter. */
export interface BugRecord {
  title: string;
  description: string;
  priority: number;
  status: string;
  tags: string[];
  viewCount: number;
}

export const STATUSES = ['open', 'triaged', 'in-progress', 'review', 'closed'];
const TAGS = ['ui', 'backend', 'sync', 'perf', 'security', 'docs', 'mobile', 'web', 'db', 'infra'];

/** `n` W1 records under ids of 8 random bytes as 16 hex chars, as the anchors use. */
export function w1Records(n: number, seed: number): { id: string; record: BugRecord }[] {
  const random = new SeededRandom(seed);
  return Array.from({ length: n }, () => ({ id: randomId(random, 8), record: w1Record(random) as unknown as BugRecord }));
}

/** W2: `n` updates of `priority` on random records of `ids`. */
export function w2Updates(n: number, ids: readonly string[], seed: number): { id: string; priority: number }[] {
  const random = new SeededRandom(seed);
  return Array.from({ length: n }, () => ({ id: ids[random.int(ids.length)] as string, priority: random.int(10) }));
}

/** One W3 edit: priority, status, title, viewCount += 1, or a tag added. */
export type Edit =
  | { id: string; kind: 'priority'; value: number }
  | { id: string; kind: 'status'; value: string }
  | { id: string; kind: 'title'; value: string }
  | { id: string; kind: 'view' }
  | { id: string; kind: 'tag'; value: string };

/** W3: `n` mixed edits on random records of `ids` (each replica gets its own seed). */
export function w3Edits(n: number, ids: readonly string[], seed: number): Edit[] {
  const random = new SeededRandom(seed);
  return Array.from({ length: n }, (_, i): Edit => {
    const id = ids[random.int(ids.length)] as string;
    switch (random.int(5)) {
      case 0:
        return { id, kind: 'priority', value: random.int(10) };
      case 1:
        return { id, kind: 'status', value: STATUSES[random.int(STATUSES.length)] as string };
      case 2:
        return { id, kind: 'title', value: `edited title ${seed}-${i}` };
      case 3:
        return { id, kind: 'view' };
      default:
        return { id, kind: 'tag', value: TAGS[random.int(TAGS.length)] as string };
    }
  });
}

/** The record every writer touches last, so a reader knows the writer's ops have all arrived. */
export const MARKER_ID = 'ffffffffffffffff';

/** Plain records keyed by id: tags sorted, numbers as numbers, no library metadata. */
export type Snapshot = Map<string, Record<string, unknown>>;

/** A digest of a snapshot: equal digests mean equal visible states. */
export function digest(snapshot: Snapshot): string {
  const hash = createHash('sha256');
  for (const id of [...snapshot.keys()].sort()) {
    const record = snapshot.get(id) as Record<string, unknown>;
    const fields = Object.keys(record).sort();
    hash.update(JSON.stringify([id, fields.map((f) => [f, normalise(record[f])])]));
  }
  return hash.digest('hex');
}

function normalise(value: unknown): unknown {
  return Array.isArray(value) ? [...value].map(String).sort() : value;
}

/** Sum of every record's viewCount (W3 checks that no increment was lost). */
export function viewTotal(snapshot: Snapshot): number {
  let total = 0;
  for (const [id, record] of snapshot) if (id !== MARKER_ID) total += Number(record.viewCount ?? 0);
  return total;
}
