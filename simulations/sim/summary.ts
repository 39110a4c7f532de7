/** What `blaze-sim run` prints after its runs: one table over all of them. */
import type { RunResult } from './run.ts';
import type { Scenario } from './scenario.ts';

export interface Summary {
  readonly scenario: string;
  readonly description: string;
  readonly runs: number;
  readonly failed: number;
  /** Rows of the printed table, in order. */
  readonly table: Record<string, string | number>;
}

export function summarize(scenario: Scenario, runs: readonly RunResult[]): Summary {
  const failed = runs.filter((r) => r.violations.length > 0);
  const byInvariant = (name: string) => runs.filter((r) => r.violations.some((v) => v.invariant === name)).length;
  const times = runs
    .map((r) => r.convergenceMs)
    .filter((t): t is number => t !== undefined)
    .sort((a, b) => a - b);
  const ops = runs.reduce((n, r) => n + r.opsWritten, 0);
  const bytes = runs.reduce((n, r) => n + r.network.bytesSent, 0);
  return {
    scenario: scenario.name,
    description: scenario.description,
    runs: runs.length,
    failed: failed.length,
    table: {
      runs: runs.length,
      'runs with a violation': failed.length,
      divergences: byInvariant('convergence') + byInvariant('model'),
      'lost writes': byInvariant('no-lost-write'),
      'resurrected deletes': byInvariant('no-resurrection'),
      'writes lost with their device (expected)': runs.reduce((n, r) => n + r.expectedLosses, 0),
      'convergence after heal, p50': times.length ? `${quantile(times, 0.5).toFixed(0)} ms` : 'n/a',
      'convergence after heal, p99': times.length ? `${quantile(times, 0.99).toFixed(0)} ms` : 'n/a',
      'liveness bound': `${runs[0]?.boundMs ?? 0} ms`,
      'ops written': ops,
      'bytes on the wire per op': ops > 0 ? (bytes / ops).toFixed(1) : 'n/a',
      'largest op log (ops)': Math.max(0, ...runs.map((r) => r.maxLogSize)),
      'virtual time per run': `${((runs[0]?.virtualMs ?? 0) / 1000).toFixed(0)} s`,
    },
  };
}

/** The `q` quantile (0.99: p99) of values sorted ascending: the nearest rank at or below. */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

export function formatTable(summary: Summary): string {
  const rows = Object.entries(summary.table);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}
