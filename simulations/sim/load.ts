/** Finding and reading scenario files. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseScenario, type Scenario } from './scenario.ts';

const HERE = dirname(new URL(import.meta.url).pathname);
/** Next to the sources, or (from the built package's dist/) in the package's own simulations/. */
const SCENARIO_DIRS = [join(HERE, '..', 'scenarios'), join(HERE, '..', '..', '..', 'simulations', 'scenarios')];

/** Bad command-line usage (exit code 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A scenario file, or the name of one in simulations/scenarios/. */
export function loadScenario(nameOrPath: string): Scenario {
  const path = existsSync(nameOrPath) ? nameOrPath : SCENARIO_DIRS.map((d) => join(d, `${nameOrPath}.json`)).find(existsSync);
  if (!path) throw new UsageError(`no scenario '${nameOrPath}' (a file, or one of simulations/scenarios/)`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseScenario(parsed);
}
