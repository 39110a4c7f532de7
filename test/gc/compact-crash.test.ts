/**
 * Compaction is crash-safe: a child alternates writes with compaction steps and is killed with
 * SIGKILL, mostly while a step runs. After each kill the store reopens consistent: every
 * acknowledged write is there, the counter counts exactly the writes that happened, the log
 * holds nothing at or below the horizon, and replaying base states plus the log (time travel to
 * now) gives exactly the stored records.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { BlazeDB } from '../../src/db/index.ts';
import type { NodeId } from '../../src/identity/node-id.ts';
import { SeededRandom } from '../../src/util/prng.ts';
import { tempDir } from '../helpers/db.ts';
import { runUntilKilled } from '../helpers/killed-child.ts';

const KILLS = Number(process.env.COMPACT_KILLS ?? 24);
const WRITER = new URL('./compact-crash-writer.ts', import.meta.url).pathname;

/** Runs the writer and kills it `delayMs` after its `after`-th compaction step began. */
async function runAndKill(dir: string, after: number, delayMs: number): Promise<number[]> {
  const acked: number[] = [];
  let steps = 0;
  await runUntilKilled(WRITER, [dir], (line, kill) => {
    if (line.startsWith('ok ')) acked.push(Number(line.slice(3)));
    else if (line === 'step' && ++steps === after) kill(delayMs);
  });
  return acked;
}

describe('compaction crash safety', () => {
  it(`should leave a consistent store with nothing acknowledged lost across ${KILLS} SIGKILLs during compaction`, async () => {
    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1e9);
    const random = new SeededRandom(seed);
    const dir = tempDir('blaze-compact-crash-');
    const replay = `replay: CRASH_SEED=${seed}`;
    let compactedSomewhere = false;
    try {
      for (let round = 0; round < KILLS; round++) {
        const acked = await runAndKill(dir.path, 1 + random.int(6), random.int(3));
        const integrity = new DatabaseSync(join(dir.path, 'blaze.db'), { readOnly: true });
        assert.equal(integrity.prepare('PRAGMA integrity_check').get()?.integrity_check, 'ok', `round ${round}, ${replay}`);
        integrity.close();
        const db = await BlazeDB.open({ path: dir.path, gc: { intervalMs: 0 } });
        const log = db.collection('log');
        const progress = await log.get('progress');
        const last = progress?.last as number;
        assert.ok(last >= Math.max(0, ...acked), `progress ${last} behind acknowledged writes (${replay})`);
        assert.equal(progress?.hits, last, `the counter counts every write exactly once (${replay})`);
        for (const n of acked) assert.ok(await log.get(`${n}-a`), `acknowledged write ${n} lost in round ${round} (${replay})`);
        // Nothing at or below the horizon is left in the log; base + log replays to the records.
        const horizon = db.stats().gc.horizon;
        for (const [node, seq] of Object.entries(horizon)) {
          const first = db.engine.opsAfter(node as NodeId, 0, 1)[0];
          assert.ok(first === undefined || first.seq > seq, `op ${node}:${first?.seq} left below the horizon ${seq} (${replay})`);
          if (seq > 0) compactedSomewhere = true;
        }
        const now = db.asOf(new Date(8.64e15)).collection('log');
        assert.deepEqual(await now.get('progress'), progress, `base + log replays to the stored record (${replay})`);
        for (let n = Math.max(1, last - 5); n <= last; n++) assert.deepEqual(await now.get(`${n}-a`), await log.get(`${n}-a`));
        await db.close();
      }
      assert.ok(compactedSomewhere, 'compaction ran');
    } finally {
      dir.cleanup();
    }
  });
});
