/**
 * Child process of compact-crash.test.ts: alternates bursts of writes (each printed `ok N` once
 * it resolved) with compaction steps (printed `step`), on the store at argv[2]. The store is its
 * own home relay with no other member, so everything it holds is stable and compacts.
 * Each write N: record N-a inserted, `progress.last` set to N, and `progress.hits` incremented.
 */
import { BlazeDB } from '../../src/db/index.ts';

const db = await BlazeDB.open({
  path: process.argv[2] as string,
  dbId: 'crash',
  gc: { authority: true, intervalMs: 0, maxOpsPerStep: 40 },
});
const log = db.collection('log');
if ((await log.get('progress')) === undefined) {
  await log.declare({ hits: 'counter' });
  await log.insert({ last: 0, hits: 0 }, { id: 'progress' });
}
let next = ((await log.get('progress'))?.last as number) + 1;
process.stdout.write('ready\n');
for (;;) {
  for (let i = 0; i < 30; i++) {
    const n = next++;
    db.transaction(() => {
      log.insertNow({ n, pad: 'x'.repeat(n % 100) }, { id: `${n}-a` });
      log.updateNow('progress', { last: n });
      void log.increment('progress', 'hits', 1); // synchronous inside the transaction
    });
    process.stdout.write(`ok ${n}\n`);
  }
  for (let steps = 0; steps < 3; steps++) {
    process.stdout.write('step\n');
    db.gcCollector.compactNow(1);
  }
  await new Promise((resolve) => setImmediate(resolve)); // let stdout flush
}
