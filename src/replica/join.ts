/**
 * State-based join of two merge states of one record, for snapshot sync: a replica merges a
 * peer's record state (and what the peer has applied) instead of replaying the peer's ops.
 *
 * The state a set of ops gives is order independent (docs/crdt.md), so the join is defined as
 * the state of the union of both op sets. Stamped parts (insert, tombstone, lww, `latest`) take
 * the higher stamp, counters take the union of their increments; the dotted parts (mv values,
 * set tags) need both sides' contexts, because an entry one side lacks is either one it has not
 * received yet (keep it) or one a write it applied has removed (drop it). test/replica/join.test.ts
 * checks the result against a replica that applied both op sets.
 */
import { compareStamps, type Stamp } from '../clock/stamp.ts';
import type { NodeId } from '../identity/node-id.ts';
import { type Dot, dotKey } from '../ops/op.ts';
import { type CounterIncrement, FieldState, type SeenDot, type SetElement, type StampedValue } from './field-state.ts';
import { RecordState } from './record-state.ts';

/**
 * The state of one record after merging the other replica's state into this one: equal to the
 * state applying every op of both replicas gives. `mineSeen` / `theirsSeen` answer whether that
 * replica has applied a dot (a partial replica passes its `applied`, not its version vector,
 * which also counts dots it skipped). The inputs are left untouched and share nothing mutable
 * with the result; the result's context is the union of both.
 */
export function joinRecordState(mine: RecordState, mineSeen: SeenDot, theirs: RecordState, theirsSeen: SeenDot): RecordState {
  const out = new RecordState();
  out.insert = higher(mine.insert, theirs.insert);
  out.tombstone = higher(mine.tombstone, theirs.tombstone);
  const none = new FieldState();
  for (const name of new Set([...mine.fields.keys(), ...theirs.fields.keys()])) {
    const a = { seen: mineSeen, field: mine.fields.get(name) ?? none };
    const b = { seen: theirsSeen, field: theirs.fields.get(name) ?? none };
    out.fields.set(name, joinField(a, b));
  }
  return out;
}

/** One replica's state of a field, with what that replica has applied. */
interface Side {
  readonly seen: SeenDot;
  readonly field: FieldState;
}

/** The higher-stamped of two; `a` on a tie (the same op, as stamps are unique per op). */
function higher<T extends Stamp>(a: T | undefined, b: T | undefined): T | undefined {
  if (a === undefined) return b;
  return b === undefined || compareStamps(a, b) >= 0 ? a : b;
}

function joinField(a: Side, b: Side): FieldState {
  const fa = a.field;
  const fb = b.field;
  const out = new FieldState();
  // Same op on both sides means the same strategy too, so a tie may take either side.
  const latest = fb.latest !== undefined && (fa.latest === undefined || compareStamps(fb.latest, fa.latest) > 0) ? fb : fa;
  out.latest = latest.latest;
  out.latestStrategy = latest.latestStrategy;
  out.lww = higher(fa.lww, fb.lww);
  if (fa.counter || fb.counter) out.counter = joinCounter(fa.counter ?? [], fb.counter ?? []);
  if (fa.mv || fb.mv) out.mv = joinDotted(fa.mv ?? [], a, fb.mv ?? [], b, (d) => dotKey(d.node, d.seq));
  if (fa.set || fb.set) {
    out.set = new Map();
    for (const key of new Set([...(fa.set?.keys() ?? []), ...(fb.set?.keys() ?? [])])) {
      const ea = fa.set?.get(key);
      const eb = fb.set?.get(key);
      const tags = joinDotted(ea?.tags ?? [], a, eb?.tags ?? [], b, (d) => `${key}|${dotKey(d.node, d.seq)}`);
      // An element whose every tag some remove observed is gone, as `apply` deletes it.
      if (tags.length > 0) out.set.set(key, { value: (ea ?? (eb as SetElement)).value, tags });
    }
  }
  // A suppression waits for its dot to arrive; once either side has applied the dot, the join
  // has it too, and the entry rule above already dropped it.
  for (const key of [...(fa.suppressed ?? []), ...(fb.suppressed ?? [])]) {
    const { node, seq } = suppressedDot(key);
    if (a.seen(node, seq) || b.seen(node, seq)) continue;
    out.suppressed ??= new Set();
    out.suppressed.add(key);
  }
  return out;
}

/**
 * Every increment once. An op's increments are identified by its stamp (unique per op), and a
 * side that applied the op holds all of them, so a stamp both sides hold is taken from one side.
 */
function joinCounter(mine: readonly CounterIncrement[], theirs: readonly CounterIncrement[]): CounterIncrement[] {
  const stampKey = (s: Stamp) => `${s.node}:${s.wall}:${s.counter}`;
  const held = new Set(mine.map(stampKey));
  return [...mine, ...theirs.filter((inc) => !held.has(stampKey(inc)))];
}

/**
 * The dotted entries (mv values, or one set element's add tags) no op of either side removed.
 * An entry both sides hold survives. One only this side holds survives unless the other side
 * removed it: it has applied the entry's op and no longer holds it (a write it applied observed
 * it), or it has suppressed the dot (it applied such a write before the op itself).
 */
function joinDotted(mine: readonly StampedValue[], a: Side, theirs: readonly StampedValue[], b: Side, suppressKey: (d: Dot) => string) {
  const dots = (entries: readonly StampedValue[]) => new Set(entries.map((e) => dotKey(e.node, e.seq)));
  const mineDots = dots(mine);
  const theirDots = dots(theirs);
  const survives = (e: StampedValue, otherDots: Set<string>, other: Side) =>
    otherDots.has(dotKey(e.node, e.seq)) || (!other.seen(e.node, e.seq) && !other.field.suppressed?.has(suppressKey(e)));
  return [
    ...mine.filter((e) => survives(e, theirDots, b)),
    // Entries both hold were taken from `mine` (all of them, should one op have written twice).
    ...theirs.filter((e) => !mineDots.has(dotKey(e.node, e.seq)) && survives(e, mineDots, a)),
  ];
}

/** The dot of a suppressed key: `node:seq` (mv) or `elementKey|node:seq` (set; node ids have neither separator). */
function suppressedDot(key: string): Dot {
  const dot = key.slice(key.lastIndexOf('|') + 1);
  const colon = dot.lastIndexOf(':');
  return { node: dot.slice(0, colon) as NodeId, seq: Number(dot.slice(colon + 1)) };
}
