/**
 * The measurements, each on a fresh pair of replica processes (pair.ts): W1 initial sync, W2
 * live updates (with W4's memory and history samples), W3 offline edits then merge.
 */

import type { LibraryName } from './libs/index.ts';
import { openPair, type Pair } from './pair.ts';
import type { Sample } from './side.ts';

const RECORD_SEED = 11;
const now = () => performance.timeOrigin + performance.now();
const TIMEOUT_MS = 600_000;

export interface Measured {
  /** Figure name -> value of this run. */
  figures: Record<string, number>;
  converged: boolean;
  /** W4 samples (W2 only). */
  samples?: Sample[];
  historyUnit?: string;
}

interface State {
  digest: string;
  records: number;
  viewTotal: number;
}

/**
 * Polls both replicas until their states match (or the deadline). `later`: they did not match
 * at the first look, so the marker arrived before the rest (a library without causal delivery)
 * and the sync ended at `at`.
 */
async function untilEqual(pair: Pair, deadlineMs = 30_000): Promise<{ at: number; later: boolean; converged: boolean; state: State }> {
  const deadline = now() + deadlineMs;
  for (let first = true; ; first = false) {
    const [a, b] = await Promise.all([pair.a.call<State>('state'), pair.b.call<State>('state')]);
    if (a.digest === b.digest) return { at: now(), later: !first, converged: true, state: a };
    if (now() > deadline) return { at: now(), later: !first, converged: false, state: a };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function withPair<T>(library: LibraryName, fn: (pair: Pair) => Promise<T>): Promise<T> {
  const pair = await openPair(library);
  try {
    return await fn(pair);
  } finally {
    await pair.close();
  }
}

/** Untimed setup: `records` records inserted on a, and b joined and holding them. */
async function syncRecords(pair: Pair, records: number): Promise<void> {
  await pair.a.call('insert', records, RECORD_SEED);
  await pair.a.call('setMarker', 'a', 1);
  await pair.join();
  await pair.b.call('waitMarker', 'a', 1, TIMEOUT_MS);
}

/** W1: `n` records created on a, then a fresh b syncs them all. */
export function w1(library: LibraryName, n: number): Promise<Measured> {
  return withPair(library, async (pair) => {
    const createSeconds = await pair.a.call<number>('insert', n, RECORD_SEED);
    await pair.a.call('setMarker', 'a', 1);
    const start = now();
    await pair.join();
    const seen = await pair.b.call<number>('waitMarker', 'a', 1, TIMEOUT_MS);
    const equal = await untilEqual(pair);
    const end = equal.later ? equal.at : seen;
    return {
      figures: {
        create_s: createSeconds,
        sync_s: (end - start) / 1000,
        bytes_per_record: pair.proxy.bytes() / n,
      },
      converged: equal.converged && equal.state.records === n + 1,
    };
  });
}

/** W2: `records` records synced to b, then `n` single-field updates on a, each shipped as it happens. */
export function w2(library: LibraryName, records: number, n: number, samples: number): Promise<Measured> {
  return withPair(library, async (pair) => {
    await syncRecords(pair, records);
    pair.proxy.reset();
    const [run, seen] = await Promise.all([
      pair.a.call<{ start: number; paused: number; samples: Sample[]; unit: string }>('w2', n, records, RECORD_SEED, 12, samples, 2),
      pair.b.call<number>('waitMarker', 'a', 2, TIMEOUT_MS),
    ]);
    const bytes = pair.proxy.bytes();
    const equal = await untilEqual(pair);
    // After the last update: how far history and memory fall once everything is acknowledged.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const settled = {
      updates: n,
      heapMB: await pair.a.call<number>('heap'),
      history: (await pair.a.call<{ value: number }>('history')).value,
    };
    return {
      figures: {
        updates_per_s: n / ((seen - run.start - run.paused) / 1000),
        bytes_per_update: bytes / n,
        heap_mb_end: settled.heapMB,
        history_end: settled.history,
      },
      converged: equal.converged,
      samples: [...run.samples, settled],
      historyUnit: run.unit,
    };
  });
}

/** W3: `records` records on both, b offline, `n` mixed edits on each, then b rejoins: time and bytes to merge. */
export function w3(library: LibraryName, records: number, n: number): Promise<Measured> {
  return withPair(library, async (pair) => {
    await syncRecords(pair, records);
    const before = (await untilEqual(pair)).state.viewTotal;
    await pair.b.call('leave');
    const [viewsA, viewsB] = await Promise.all([
      pair.a.call<number>('w3', n, records, RECORD_SEED, 31),
      pair.b.call<number>('w3', n, records, RECORD_SEED, 32),
    ]);
    await Promise.all([pair.a.call('setMarker', 'a', 2), pair.b.call('setMarker', 'b', 2)]);
    pair.proxy.reset();
    const start = now();
    await pair.join();
    const [seenA, seenB] = await Promise.all([
      pair.a.call<number>('waitMarker', 'b', 2, TIMEOUT_MS),
      pair.b.call<number>('waitMarker', 'a', 2, TIMEOUT_MS),
    ]);
    const equal = await untilEqual(pair);
    const seen = Math.max(seenA, seenB);
    const end = equal.later ? equal.at : seen;
    const expected = before + viewsA + viewsB;
    return {
      figures: {
        merge_s: (end - start) / 1000,
        bytes_per_edit: pair.proxy.bytes() / (2 * n),
        increments_lost: expected - equal.state.viewTotal,
        increments: viewsA + viewsB,
      },
      converged: equal.converged,
    };
  });
}
