/**
 * Crash durability with real processes: a child writes as fast as it can and is killed with
 * SIGKILL at random moments. After every kill the store must reopen cleanly, hold every write
 * whose promise had resolved (the child reported it), and no write may be half-applied.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { BlazeDB } from '../../src/db/index.ts';
import { SeededRandom } from '../../src/util/prng.ts';
import { tempDir } from '../helpers/db.ts';
import { runUntilKilled } from '../helpers/killed-child.ts';

// 60 per `npm test`; `npm run soak:crash` runs thousands.
const KILLS = Number(process.env.CRASH_KILLS ?? 60);
const WRITER = new URL('./crash-writer.ts', import.meta.url).pathname;

/** Runs the writer until `killAfterMs` past its 'ready'; returns the writes it acknowledged. */
async function runAndKill(dir: string, killAfterMs: number): Promise<number[]> {
  const acked: number[] = [];
  await runUntilKilled(WRITER, [dir], (line, kill) => {
    if (line === 'ready') kill(killAfterMs);
    else if (line.startsWith('ok ')) acked.push(Number(line.slice(3)));
  });
  return acked;
}

describe('crash durability', () => {
  it(`should lose no acknowledged write and half-apply none across ${KILLS} SIGKILLs`, async () => {
    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1e9);
    const random = new SeededRandom(seed);
    const dir = tempDir('blaze-crash-');
    let totalAcked = 0;
    try {
      for (let round = 0; round < KILLS; round++) {
        const acked = await runAndKill(dir.path, random.int(150));
        totalAcked += acked.length;
        const integrity = new DatabaseSync(join(dir.path, 'blaze.db'), { readOnly: true });
        assert.equal(
          integrity.prepare('PRAGMA integrity_check').get()?.integrity_check,
          'ok',
          `round ${round}, replay: CRASH_SEED=${seed}`,
        );
        integrity.close();
        const db = await BlazeDB.open({ path: dir.path });
        const log = db.collection('log');
        const last = ((await log.get('progress'))?.last as number) ?? 0;
        for (const n of acked) {
          assert.ok(await log.get(`${n}-a`), `acknowledged write ${n} lost in round ${round} (replay: CRASH_SEED=${seed})`);
        }
        assert.ok(last >= Math.max(0, ...acked), `progress ${last} behind acknowledged writes`);
        // Atomicity: every write up to `last` is whole, none after it exists at all.
        for (let n = Math.max(1, last - 50); n <= last + 5; n++) {
          const a = await log.get(`${n}-a`);
          const b = await log.get(`${n}-b`);
          assert.equal(a !== undefined, n <= last, `write ${n} half-applied or out of order (replay: CRASH_SEED=${seed})`);
          assert.equal(b !== undefined, n <= last, `write ${n} half-applied (replay: CRASH_SEED=${seed})`);
        }
        await db.close();
      }
      assert.ok(totalAcked > KILLS, `the writer acknowledged only ${totalAcked} writes in ${KILLS} rounds`);
    } finally {
      dir.cleanup();
    }
  });
});
