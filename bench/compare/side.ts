/**
 * One replica of the comparison, in its own process (forked by run.ts, with an IPC channel and
 * --expose-gc). The parent calls the methods below by name; data comes from seeds here, so
 * only small results cross the channel. Times are wall-clock epoch milliseconds, comparable
 * between the processes of one machine.
 */
import { digest, viewTotal, w1Records, w2Updates, w3Edits } from './data.ts';
import type { Contact, Contender } from './libs/contender.ts';
import { type LibraryName, loadContender } from './libs/index.ts';

export interface Call {
  id: number;
  method: string;
  args: unknown[];
}

export interface Sample {
  updates: number;
  heapMB: number;
  history: number;
}

const now = () => performance.timeOrigin + performance.now();
const tick = () => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let contender: Contender | undefined;
const lib = () => {
  if (!contender) throw new Error('open first');
  return contender;
};

function heapMB(): number {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return (m.heapUsed + m.external + m.arrayBuffers) / 2 ** 20;
}

const methods: Record<string, (...args: never[]) => Promise<unknown>> = {
  async open(name: LibraryName, dir: string, role: 'a' | 'b') {
    contender = await loadContender(name);
    await contender.open(dir, role);
    return { package: contender.package };
  },
  serve: async () => lib().serve(),
  join: async (contact: Contact) => lib().join(contact),
  leave: async () => lib().leave(),
  setMarker: async (side: 'a' | 'b', value: number) => lib().setMarker(side, value),
  /** Seconds to insert W1 records. */
  async insert(n: number, seed: number) {
    const records = w1Records(n, seed);
    const start = now();
    await lib().insert(records);
    return (now() - start) / 1000;
  },
  /** Waits until the marker of `side` reads `value`; returns when it was seen. */
  async waitMarker(side: 'a' | 'b', value: number, timeoutMs: number) {
    const deadline = now() + timeoutMs;
    for (;;) {
      if ((await lib().markerValue(side)) === value) return now();
      if (now() > deadline) throw new Error(`marker ${side}=${value} not seen within ${timeoutMs} ms`);
      await sleep(2);
    }
  },
  /** W2 on records of (recordCount, recordSeed), then the marker; samples memory and history `samples` times. */
  async w2(n: number, recordCount: number, recordSeed: number, seed: number, samples: number, marker: number) {
    const ids = w1Records(recordCount, recordSeed).map((r) => r.id);
    const updates = w2Updates(n, ids, seed);
    const c = lib();
    const every = Math.max(1, Math.floor(n / samples));
    const taken: Sample[] = [{ updates: 0, heapMB: heapMB(), history: (await c.history()).value }];
    let paused = 0;
    const start = now();
    for (const [i, u] of updates.entries()) {
      await c.update(u.id, u.priority);
      if (i % 100 === 99) await tick(); // let the sync send as it goes
      if ((i + 1) % every === 0) {
        const pauseStart = now();
        taken.push({ updates: i + 1, heapMB: heapMB(), history: (await c.history()).value });
        paused += now() - pauseStart;
      }
    }
    await c.setMarker('a', marker);
    return { start, paused, samples: taken, unit: (await c.history()).unit };
  },
  /** W3 edits; returns how many were increments. */
  async w3(n: number, recordCount: number, recordSeed: number, seed: number) {
    const ids = w1Records(recordCount, recordSeed).map((r) => r.id);
    const c = lib();
    let views = 0;
    for (const [i, e] of w3Edits(n, ids, seed).entries()) {
      await c.edit(e);
      if (e.kind === 'view') views++;
      if (i % 100 === 99) await tick();
    }
    return views;
  },
  async state() {
    const snapshot = await lib().snapshot();
    return { digest: digest(snapshot), records: snapshot.size, viewTotal: viewTotal(snapshot) };
  },
  heap: async () => heapMB(),
  history: async () => lib().history(),
  async close() {
    await contender?.close();
    setImmediate(() => process.exit(0));
  },
};

process.on('message', async (call: Call) => {
  try {
    const method = methods[call.method];
    if (!method) throw new Error(`no method ${call.method}`);
    const result = await method(...(call.args as never[]));
    process.send?.({ id: call.id, result });
  } catch (err) {
    process.send?.({ id: call.id, error: (err as Error).stack ?? String(err) });
  }
});
process.send?.({ ready: true });
