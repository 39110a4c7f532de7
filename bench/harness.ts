/**
 * A small benchmark harness: each benchmark reports named figures; the runner prints a table
 * or JSON lines and filters by name prefix. Timed figures are the median of several runs.
 */

export interface Figure {
  name: string;
  value: number;
  unit: string;
}

export interface Benchmark {
  /** Name prefix of the figures it reports, for --filter. */
  prefix: string;
  /** `filter`: the --filter prefix; a benchmark with several costly parts may run only those it matches. */
  run(filter?: string): Figure[] | Promise<Figure[]>;
}

/** Calls `fn` `runs` times after `warmup` untimed calls; returns the median seconds per call. */
export function medianSeconds(fn: () => void, runs = 7, warmup = 2): number {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

/** Median seconds of `measure`, which times its own region (so setup can stay outside). */
export function medianOf(measure: () => number, runs = 7, warmup = 2): number {
  for (let i = 0; i < warmup; i++) measure();
  const times = Array.from({ length: runs }, measure).sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

/** Seconds spent in `fn`. */
export function timed(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Keeps results alive so the optimizer cannot drop the work that produced them. */
export let sink: unknown;
export function consume(value: unknown): void {
  sink = value;
}
