/** Seeded data shared by the benchmarks (see ../shared/bench/WORKLOADS.md, W2 and W5). */
import type { NodeId } from '../src/identity/node-id.ts';
import type { Op } from '../src/ops/op.ts';
import { toHex } from '../src/util/hex.ts';
import type { SeededRandom } from '../src/util/prng.ts';

export const NOW = 1_795_000_000_000;

export function randomId(random: SeededRandom, bytes = 16): string {
  return toHex(random.bytes(bytes));
}

/** `n` single-field `priority` updates by one node on random records from `records`. */
export function priorityUpdates(n: number, records: string[], random: SeededRandom, firstSeq = 1): Op[] {
  const node = randomId(random, 8) as NodeId;
  const ops: Op[] = [];
  let wall = NOW;
  for (let i = 0; i < n; i++) {
    wall += random.int(3);
    ops.push({
      node,
      seq: firstSeq + i,
      wall,
      counter: 0,
      collection: 'bugs',
      record: records[random.int(records.length)] as string,
      kind: 'update',
      fields: [{ type: 'set', field: 'priority', value: random.int(10) }],
    });
  }
  return ops;
}

/** The W5 op-like object, as the anchors encode it. */
export interface W5Object {
  id: Uint8Array;
  ts: { wall: number; counter: number; node: Uint8Array };
  collection: string;
  record: Uint8Array;
  fields: { priority: number };
}

/** W5: the same ops as BlazeDB ops and as the anchors' plain objects. */
export function w5(n: number, random: SeededRandom): { ops: Op[]; objects: W5Object[] } {
  const nodeBytes = random.bytes(8);
  const node = toHex(nodeBytes) as NodeId;
  const ops: Op[] = [];
  const objects: W5Object[] = [];
  let wall = NOW;
  for (let i = 0; i < n; i++) {
    wall += random.int(3);
    const record = random.bytes(16);
    objects.push({ id: random.bytes(16), ts: { wall, counter: 0, node: nodeBytes }, collection: 'bugs', record, fields: { priority: 10 } });
    ops.push({
      node,
      seq: i + 1,
      wall,
      counter: 0,
      collection: 'bugs',
      record: toHex(record),
      kind: 'update',
      fields: [{ type: 'set', field: 'priority', value: 10 }],
    });
  }
  return { ops, objects };
}

const WORDS = (
  'the a login page error crash user data sync button screen slow fails when after before load save open close ' +
  'network timeout server client token session cache update delete insert record field value list table query ' +
  'index search filter sort page scroll click tap menu dialog window modal form input output file upload download ' +
  'image video audio text font color theme dark light mobile desktop tablet browser app version release build test ' +
  'debug log trace warn info fatal memory cpu disk battery'
).split(' ');
const STATUSES = ['open', 'triaged', 'in-progress', 'review', 'closed'];
const TAGS = ['ui', 'backend', 'sync', 'perf', 'security', 'docs', 'mobile', 'web', 'db', 'infra'];

/** W1's record (../shared/bench/WORKLOADS.md): title ~30 chars, description ~200 chars of words, a set, a counter. */
export function w1Record(random: SeededRandom): Record<string, string | number | string[]> {
  const words = (chars: number) => {
    const out: string[] = [];
    let length = 0;
    while (length < chars) {
      const word = WORDS[random.int(WORDS.length)] as string;
      out.push(word);
      length += word.length + 1;
    }
    return out.join(' ');
  };
  const tags = new Set<string>();
  const count = 2 + random.int(2);
  while (tags.size < count) tags.add(TAGS[random.int(TAGS.length)] as string);
  return {
    title: words(30),
    description: words(200),
    priority: random.int(10),
    status: STATUSES[random.int(STATUSES.length)] as string,
    tags: [...tags],
    viewCount: random.int(1000),
  };
}
