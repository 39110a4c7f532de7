/**
 * Child process of crash.test.ts: writes to the store at argv[2] as fast as it can and prints
 * `ok N` after write N resolved. Each write N is one transaction: records N-a and N-b, and the
 * `progress` record's `last` field set to N.
 */
import { BlazeDB } from '../../src/db/index.ts';

const db = await BlazeDB.open({ path: process.argv[2] as string });
const log = db.collection('log');
let next = (((await log.get('progress'))?.last as number | undefined) ?? 0) + 1;
if ((await log.get('progress')) === undefined) await log.insert({ last: 0 }, { id: 'progress' });
process.stdout.write('ready\n');
for (;;) {
  const n = next++;
  db.transaction(() => {
    log.insertNow({ n, part: 'a' }, { id: `${n}-a` });
    log.insertNow({ n, part: 'b', pad: 'x'.repeat(n % 200) }, { id: `${n}-b` });
    log.updateNow('progress', { last: n });
  });
  process.stdout.write(`ok ${n}\n`);
  if (n % 20 === 0) await new Promise((resolve) => setImmediate(resolve)); // let stdout flush
}
