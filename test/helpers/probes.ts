/**
 * Write-to-visible latency probes, run inside peer processes (test/helpers/peer-process.ts,
 * bench/relay-load.ts): one side updates a record's `probe` field at a steady rate and notes
 * when each write resolved; the other prints when each value became visible in a live query.
 * Also the JSON-line command loop those processes answer on.
 */
import { createInterface } from 'node:readline';
import type { Collection } from '../../src/db/index.ts';

/** Milliseconds since the epoch, sub-millisecond, comparable across processes on one machine. */
export const wallMs = () => performance.timeOrigin + performance.now();

/** Prints {"event":"seen","probe","at"} whenever a record's `probe` field changes in `collection`. */
export function watchProbes(collection: Collection, print: (value: unknown) => void): void {
  collection.subscribe({ probe: { $exists: true } }, (r) => {
    const at = wallMs();
    for (const rec of [...r.added, ...r.changed]) print({ event: 'seen', probe: rec.probe, at });
  });
}

/** Sets `probe` on one record `count` times, `intervalMs` apart; returns [value, resolved at]. */
export async function writeProbes(collection: Collection, count: number, intervalMs: number): Promise<[number, number][]> {
  const id = await collection.insert({ probe: -1 });
  const out: [number, number][] = [];
  for (let i = 0; i < count; i++) {
    await collection.update(id, { probe: i });
    out.push([i, wallMs()]);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return out;
}

/**
 * Write-to-visible latency of each probe write ([value, resolved at] from writeProbes), given
 * the watcher's 'seen' events. A value is visible once it or a later one is seen (a live query
 * that fires once for several changes shows only the last); Infinity if none was.
 */
export function probeLatencies(writes: readonly [number, number][], events: readonly Record<string, unknown>[]): number[] {
  const seen = events.filter((e) => e.event === 'seen').map((e) => [e.probe as number, e.at as number] as const);
  return writes.map(([value, at]) => {
    let first = Number.POSITIVE_INFINITY;
    for (const [v, when] of seen) if (v >= value && when < first) first = when;
    return first - at;
  });
}

/** The `q` quantile (0.99: p99) of latencies sorted ascending (the simulator's own). */
export { quantile as percentile } from '../../simulations/sim/summary.ts';

export type Command = Record<string, unknown> & { id: number; cmd: string };

/** Answers JSON-line commands on stdin with {"reply": id, "result"} until stdin ends. */
export async function serveCommands(
  commands: Record<string, (c: Command) => Promise<unknown>>,
  print: (value: unknown) => void,
): Promise<void> {
  // Commands run side by side: a long one (waitCount) must not hold back the writes it waits for.
  const running = new Set<Promise<void>>();
  for await (const line of createInterface({ input: process.stdin })) {
    const command = JSON.parse(line) as Command;
    const run = commands[command.cmd];
    const done = (run ? run(command) : Promise.resolve({ error: `unknown command ${command.cmd}` })).then(
      (result) => print({ reply: command.id, result }),
      (err: Error) => print({ reply: command.id, error: err.message }),
    );
    running.add(done);
    void done.finally(() => running.delete(done));
  }
  await Promise.all(running);
}
