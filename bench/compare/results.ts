/** The comparison's machine-readable results (docs/comparison.json), read back by the report. */
import type { Figure } from '../harness.ts';
import type { Sample } from './side.ts';

export interface Row {
  workload: string;
  library: string;
  /** What this library ran: records, updates, edits. */
  sizes: Record<string, number>;
  /** Figure -> one value per run, in round order (run i of every library is round i). */
  figures: Record<string, number[]>;
  converged: boolean[];
  /** W2's W4 samples: heap and history every tenth of the updates (first run), then settled. */
  samples?: Sample[];
  historyUnit?: string;
  /** Why this library could not run this workload here. */
  error?: string;
}

export interface Results {
  generated: string;
  machine: { cpus: number; model: string; memoryGiB: number; node: string; platform: string };
  runs: number;
  scale: number;
  versions: Record<string, string>;
  rows: Row[];
  /** W5: the codec figures of bench/codec.bench.ts, same run. */
  codec?: Figure[];
}
