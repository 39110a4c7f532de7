#!/usr/bin/env node
/**
 * blaze-sim: runs a network simulation scenario (docs/simulator.md).
 *
 *   blaze-sim run SCENARIO [--seed N] [--runs M] [--peers N] [--max-seconds S] [--report FILE] [--json]
 *
 * SCENARIO is a scenario file, or the name of one in simulations/scenarios/. Runs seeds N,
 * N+1, ... N+M-1; shows progress, prints a summary table, writes an HTML report with charts
 * (default blaze-sim-report.html), and exits 1 if any invariant broke, printing the command
 * that replays the failing seed.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadScenario, UsageError } from './sim/load.ts';
import { renderReport } from './sim/report.ts';
import { type RunOptions, type RunResult, runScenario } from './sim/run.ts';
import { type Scenario, ScenarioError } from './sim/scenario.ts';
import { formatTable, summarize } from './sim/summary.ts';

const USAGE = 'usage: blaze-sim run SCENARIO [--seed N] [--runs M] [--peers N] [--max-seconds S] [--report FILE] [--json]';

function count(text: string | undefined, what: string, fallback: number, min = 0): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min) throw new UsageError(`${what} must be an integer >= ${min}`);
  return Number(text);
}

function main(argv: string[]): number {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        seed: { type: 'string' },
        runs: { type: 'string' },
        peers: { type: 'string' },
        'max-seconds': { type: 'string' },
        report: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals[0] !== 'run' || positionals.length !== 2) throw new UsageError(USAGE);
  const scenario = loadScenario(positionals[1] as string);
  const first = count(values.seed as string | undefined, '--seed', 1);
  const runs = count(values.runs as string | undefined, '--runs', 1, 1);
  const peers = values.peers === undefined ? undefined : count(values.peers as string, '--peers', 0, 1);
  if (peers !== undefined && peers > 500) throw new UsageError('--peers must be at most 500');
  const reportPath = (values.report as string | undefined) ?? 'blaze-sim-report.html';
  try {
    writeFileSync(reportPath, ''); // fail now, not after the runs
  } catch (err) {
    throw new UsageError(`cannot write the report to ${reportPath}: ${(err as Error).message}`);
  }
  // A soak stops by itself: after its runs, or once this much wall time has passed.
  const maxSeconds = count(values['max-seconds'] as string | undefined, '--max-seconds', Number.POSITIVE_INFINITY, 1);
  const results: RunResult[] = [];
  const replay = (r: RunResult) => `blaze-sim run ${positionals[1]} --seed ${r.seed} --runs 1${peers ? ` --peers ${peers}` : ''}`;
  const started = performance.now();
  for (let i = 0; i < runs; i++) {
    if ((performance.now() - started) / 1000 > maxSeconds) break;
    // A single long run (the year) reports its own progress: virtual days, writes, op logs.
    const onSample = runs === 1 ? sampleProgress(scenario, started) : undefined;
    const result = runOne(scenario, first + i, peers, onSample);
    results.push(result);
    if (process.stderr.isTTY) progress(i + 1, runs, results, started);
    if (result.violations.length > 0)
      process.stderr.write(
        `\nseed ${result.seed}: ${result.violations[0]?.invariant}: ${result.violations[0]?.detail}\n  replay: ${replay(result)}\n`,
      );
  }
  const failed = results.filter((r) => r.violations.length > 0).length;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}${results.length}/${runs} runs, ${failed} failed, ${seconds} s\n`);
  const summary = summarize(scenario, results);
  writeFileSync(reportPath, renderReport(summary, results, replay));
  if (values.json) console.log(JSON.stringify({ summary, runs: results.map(({ samples: _, ...r }) => r) }, null, 2));
  else console.log(`${formatTable(summary)}\nreport: ${reportPath}`);
  return summary.failed > 0 ? 1 : 0;
}

/** One run; an exception inside it (a bug in the engine or the harness) is a failed run too. */
function runOne(scenario: Scenario, seed: number, peers: number | undefined, onSample?: RunOptions['onSample']): RunResult {
  try {
    return runScenario(scenario, seed, { ...(peers ? { peers } : {}), ...(onSample ? { onSample } : {}) });
  } catch (err) {
    const failure = { invariant: 'exception', at: 0, step: 0, detail: (err as Error).stack ?? String(err), nodes: [], lastEvents: [] };
    return {
      scenario: scenario.name,
      seed,
      traceHash: '',
      converged: false,
      convergenceMs: undefined,
      boundMs: 0,
      opsWritten: 0,
      expectedLosses: 0,
      bytesPerOp: 0,
      maxLogSize: 0,
      faults: [],
      healAt: 0,
      violations: [failure],
      samples: [],
      virtualMs: 0,
      events: 0,
      network: { framesSent: 0, framesStalled: 0, bytesSent: 0, framesLost: 0, framesDuplicated: 0, framesReordered: 0, resets: 0 },
    };
  }
}

/** Progress of one run, at most every 2% of its active phase: virtual days, writes, largest op log. */
function sampleProgress(scenario: Scenario, started: number): RunOptions['onSample'] {
  let next = 0;
  return (sample, written) => {
    if (sample.t < next) return;
    next = sample.t + scenario.activeMs / 50;
    const day = (sample.t / 86_400_000).toFixed(1);
    const days = (scenario.activeMs / 86_400_000).toFixed(0);
    const largest = Math.max(0, ...Object.values(sample.logSize));
    const seconds = ((performance.now() - started) / 1000).toFixed(0);
    process.stderr.write(`day ${day} of ${days}: ${written} ops written, largest op log ${largest} ops, ${seconds} s\n`);
  };
}

function progress(done: number, total: number, results: readonly RunResult[], started: number): void {
  const width = 30;
  const filled = Math.round((done / total) * width);
  const failed = results.filter((r) => r.violations.length > 0).length;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} runs, ${failed} failed, ${seconds} s`);
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) {
    console.error(err.message);
    process.exitCode = 2;
  } else if (err instanceof ScenarioError) {
    console.error(`ScenarioError: ${err.message}`);
    process.exitCode = 2;
  } else {
    console.error(`internal error: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 3;
  }
}
