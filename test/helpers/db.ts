/** Databases for tests: in memory, or SQLite in a temporary directory removed afterwards. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlazeDB, type OpenOptions } from '../../src/db/index.ts';
import { SeededRandom } from '../../src/util/prng.ts';

export function tempDir(prefix = 'blaze-test-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export type Kind = 'memory' | 'sqlite';
export const KINDS: Kind[] = ['memory', 'sqlite'];

/** Opens a database of the given kind with a manual wall clock and seeded randomness. */
export async function openTestDb(kind: Kind, options: OpenOptions = {}) {
  const dir = kind === 'sqlite' ? tempDir() : undefined;
  const wall = { time: 1_800_000_000_000, now: () => wall.time };
  const db = await BlazeDB.open({
    ...(dir ? { path: dir.path } : { storage: 'memory' as const }),
    wallClock: wall,
    random: new SeededRandom(42),
    ...options,
  });
  return {
    db,
    wall,
    path: dir?.path,
    async [Symbol.asyncDispose]() {
      await db.close();
      dir?.cleanup();
    },
  };
}
