/**
 * Differential property: the same random sequence of API calls on a SQLite store (reopened
 * now and then, with indexes created along the way) and on a memory store without indexes
 * gives the same answer to every call. The storage engines, index maintenance and persistence are then
 * interchangeable, whatever the history.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BlazeDB } from '../../src/db/index.ts';
import { SeededRandom } from '../../src/util/prng.ts';
import type { Value } from '../../src/values/value.ts';
import { tempDir } from '../helpers/db.ts';
import { checkProperty } from '../helpers/property.ts';

const IDS = ['a', 'b', 'c', 'd'];
const FIELDS = ['p', 'q'];

type Call =
  | { do: 'insert' | 'update'; id: number; field: number; value: Value }
  | { do: 'delete' | 'unset'; id: number; field: number }
  | { do: 'incr'; id: number; by: number }
  | { do: 'add' | 'remove'; id: number; element: string }
  | { do: 'index'; field: number }
  | { do: 'reopen' }
  | { do: 'find'; field: number; op: '$eq' | '$gt' | '$lte' | '$in' | '$exists'; value: Value };

// A small domain, so finds often hit what was written.
const value = fc.oneof(fc.integer({ min: 0, max: 2 }), fc.constantFrom('x', null, true, 1.5));
const plain = { noNullPrototype: true } as const;
const call: fc.Arbitrary<Call> = fc.oneof(
  fc.record({ do: fc.constantFrom('insert' as const, 'update' as const), id: fc.nat(3), field: fc.nat(1), value }, plain),
  fc.record({ do: fc.constantFrom('delete' as const, 'unset' as const), id: fc.nat(3), field: fc.nat(1) }, plain),
  fc.record({ do: fc.constant('incr' as const), id: fc.nat(3), by: fc.integer({ min: -3, max: 3 }) }, plain),
  fc.record({ do: fc.constantFrom('add' as const, 'remove' as const), id: fc.nat(3), element: fc.constantFrom('u', 'v') }, plain),
  fc.record({ do: fc.constant('index' as const), field: fc.nat(1) }, plain),
  fc.record({ do: fc.constant('reopen' as const) }, plain),
  fc.record(
    {
      do: fc.constant('find' as const),
      field: fc.nat(1),
      op: fc.constantFrom('$eq' as const, '$gt' as const, '$lte' as const, '$in' as const, '$exists' as const),
      value,
    },
    plain,
  ),
);

/** Runs one call; returns what it answered (an error name, a record, a result list). */
async function run(db: BlazeDB, c: Call): Promise<unknown> {
  const bugs = db.collection('bugs');
  const id = 'id' in c ? (IDS[c.id] as string) : '';
  const field = 'field' in c ? (FIELDS[c.field] as string) : '';
  try {
    switch (c.do) {
      case 'insert':
        return await bugs.insert({ [field]: c.value, n: 0, s: [] }, { id });
      case 'update':
        return await bugs.update(id, { [field]: c.value });
      case 'delete':
        return await bugs.delete(id);
      case 'unset':
        return await bugs.unset(id, field);
      case 'incr':
        return await bugs.increment(id, 'n', c.by);
      case 'add':
        return await bugs.add(id, 's', c.element);
      case 'remove':
        return await bugs.remove(id, 's', c.element);
      case 'find': {
        const arg = c.op === '$in' ? [c.value, 1] : c.op === '$exists' ? typeof c.value === 'number' : c.value;
        const rows = await bugs.find({ [field]: { [c.op]: arg } }, { sort: { p: 1, q: -1 } });
        return rows;
      }
      case 'reopen':
        return 'reopen';
    }
  } catch (err) {
    return (err as Error).name;
  }
}

describe('SQLite and memory stores', () => {
  it('should answer every call alike for any sequence of writes, indexes and reopens', async () => {
    await checkProperty(
      'sqlite equals memory',
      fc.asyncProperty(fc.array(call, { minLength: 5, maxLength: 40 }), async (calls) => {
        const dir = tempDir();
        const open = (storage: 'sqlite' | 'memory') =>
          BlazeDB.open({
            ...(storage === 'sqlite' ? { path: dir.path } : { storage: 'memory' as const }),
            random: new SeededRandom(1),
            wallClock: { now: () => 1_800_000_000_000 },
          });
        let sqlite = await open('sqlite');
        const memory = await open('memory');
        try {
          await sqlite.collection('bugs').declare({ n: 'counter', s: 'set' });
          await memory.collection('bugs').declare({ n: 'counter', s: 'set' });
          for (const c of calls) {
            if (c.do === 'reopen') {
              await sqlite.close();
              sqlite = await open('sqlite');
              continue;
            }
            if (c.do === 'index') {
              // Only the SQLite side gets indexes: the memory side scans, so index results are checked too.
              await sqlite.collection('bugs').createIndex(FIELDS[c.field] as string);
              continue;
            }
            assert.deepStrictEqual(await run(sqlite, c), await run(memory, c), JSON.stringify(c));
          }
          for (const id of IDS) assert.deepStrictEqual(await sqlite.collection('bugs').get(id), await memory.collection('bugs').get(id));
          assert.deepStrictEqual(sqlite.history('bugs', 'a').length, memory.history('bugs', 'a').length);
        } finally {
          await sqlite.close();
          await memory.close();
          dir.cleanup();
        }
      }),
      { numRuns: 100 },
    );
  });
});
