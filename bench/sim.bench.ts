/**
 * Simulator speed: the 'office LAN' scenario with 20 peers, timed on the wall clock. Figures:
 * seconds of simulated time per wall second, and simulation events per wall second.
 */
import { loadScenario } from '../simulations/sim/load.ts';
import { runScenario } from '../simulations/sim/run.ts';
import type { Benchmark, Figure } from './harness.ts';

export const simBenchmark: Benchmark = {
  prefix: 'sim.',
  run(): Figure[] {
    const scenario = loadScenario('office-lan');
    const seeds = [1, 2, 3];
    let wall = 0;
    let virtual = 0;
    let events = 0;
    let ops = 0;
    for (const seed of seeds) {
      const start = process.hrtime.bigint();
      const r = runScenario(scenario, seed, { peers: 20 });
      wall += Number(process.hrtime.bigint() - start) / 1e9;
      if (r.violations.length > 0) throw new Error(`seed ${seed}: ${r.violations[0]?.invariant}: ${r.violations[0]?.detail}`);
      virtual += r.virtualMs / 1000;
      events += r.events;
      ops += r.opsWritten;
    }
    return [
      {
        name: 'sim.virtual_to_wall_ratio',
        value: Math.round((virtual / wall) * 10) / 10,
        unit: `simulated s per wall s (office-lan, 20 peers, ${Math.round(ops / seeds.length)} ops per run)`,
      },
      { name: 'sim.events_per_s', value: Math.round(events / wall), unit: 'events per wall second' },
    ];
  },
};
