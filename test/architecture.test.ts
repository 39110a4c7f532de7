/**
 * Architecture rules that keep the simulator possible: src/ takes time, randomness, timers and
 * transports by injection. Only src/platform/ may touch the real ones.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';

const SRC = new URL('../src/', import.meta.url).pathname;
const BANNED: [RegExp, string][] = [
  [/from ['"](libp2p|@libp2p\/[^'"]*|node:net|node:dgram|node:http|node:https)['"]/, 'a transport import'],
  [/\bDate\.now\(/, 'Date.now()'],
  [/\bMath\.random\(/, 'Math.random()'],
  [/\bset(Timeout|Interval|Immediate)\(/, 'a timer'],
  [/\bperformance\.now\(/, 'performance.now()'],
  [/\bnew Date\(\)/, 'new Date() (the current time)'],
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(path) : entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('architecture', () => {
  it('should keep src/ outside platform/ free of real clocks, randomness, timers and transports', () => {
    const offences: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const rel = relative(SRC, file);
      if (rel.startsWith('platform/')) continue;
      const text = readFileSync(file, 'utf8');
      for (const [pattern, what] of BANNED) if (pattern.test(text)) offences.push(`src/${rel}: ${what}`);
    }
    assert.deepEqual(offences, []);
  });
});
