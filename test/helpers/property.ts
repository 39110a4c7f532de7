/**
 * fast-check with a replay line: every property run is seeded, and a failure prints the
 * command that replays exactly that case.
 */
import fc from 'fast-check';

export interface PropertyOptions {
  numRuns?: number;
}

/** Runs `property`; honours FC_SEED / FC_PATH from the environment for replays. */
export function checkProperty<T>(name: string, property: fc.IProperty<T> | fc.IAsyncProperty<T>, options: PropertyOptions = {}) {
  const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : Date.now() ^ (Math.random() * 0x7fffffff);
  const path = process.env.FC_PATH;
  const params: fc.Parameters<T> = { seed, numRuns: options.numRuns ?? 100, ...(path ? { path } : {}) };
  const report = (err: unknown): never => {
    const details = err instanceof Error ? err.message : String(err);
    const match = /seed: (-?\d+), path: "([^"]*)"/.exec(details);
    const replay = match
      ? `FC_SEED=${match[1]} FC_PATH=${match[2]} node --test --test-name-pattern=${JSON.stringify(name)} <this file>`
      : `FC_SEED=${seed} node --test --test-name-pattern=${JSON.stringify(name)} <this file>`;
    throw new Error(`${details}\nreplay: ${replay}`, { cause: err instanceof Error ? err.cause : undefined });
  };
  if ('isAsync' in property && property.isAsync()) {
    return fc.assert(property as fc.IAsyncProperty<T>, params).catch(report);
  }
  try {
    fc.assert(property as fc.IProperty<T>, params);
  } catch (err) {
    report(err);
  }
  return undefined;
}
