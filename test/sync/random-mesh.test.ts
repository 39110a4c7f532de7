/**
 * Randomized sync property: 3-4 databases write random ops of every field kind while links
 * between them come up and go down at random (sessions closed mid-stream included). When every
 * pair is finally connected, all databases hold the same records and the same version vector,
 * and counters equal the exact sum of every increment.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BlazeDB } from '../../src/db/index.ts';
import { createPipe, databaseSource, SyncSession } from '../../src/sync/index.ts';
import { SeededRandom } from '../../src/util/prng.ts';
import { checkProperty } from '../helpers/property.ts';
import { settle } from '../helpers/sync.ts';

type Step =
  | { do: 'write'; who: number; what: number; id: number; n: number }
  | { do: 'link' | 'unlink'; a: number; b: number }
  | { do: 'settle' };

const plain = { noNullPrototype: true } as const;
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record(
      { do: fc.constant('write' as const), who: fc.nat(3), what: fc.nat(5), id: fc.nat(3), n: fc.integer({ min: -3, max: 5 }) },
      plain,
    ),
  },
  { weight: 2, arbitrary: fc.record({ do: fc.constantFrom('link' as const, 'unlink' as const), a: fc.nat(3), b: fc.nat(3) }, plain) },
  { weight: 1, arbitrary: fc.record({ do: fc.constant('settle' as const) }, plain) },
);

async function write(db: BlazeDB, s: Extract<Step, { do: 'write' }>): Promise<number> {
  const c = db.collection('bugs');
  const id = `r${s.id}`;
  try {
    const exists = (await c.get(id)) !== undefined;
    if (!exists) {
      await c.insert({ v: s.n, n: 0, tags: [] }, { id });
      return 0;
    }
    switch (s.what) {
      case 0:
        await c.update(id, { v: s.n });
        return 0;
      case 1:
        await c.increment(id, 'n', s.n);
        return s.n;
      case 2:
        await c.add(id, 'tags', `t${Math.abs(s.n) % 3}`);
        return 0;
      case 3:
        await c.remove(id, 'tags', `t${Math.abs(s.n) % 3}`);
        return 0;
      case 4:
        await c.delete(id);
        return 0;
      default:
        await c.update(id, { w: s.n });
        return 0;
    }
  } catch (err) {
    if ((err as Error).name === 'NotFoundError' || (err as Error).name === 'AlreadyExistsError') return 0;
    throw err;
  }
}

describe('sync under random links', () => {
  it('should converge once everyone is connected, whatever linked and unlinked on the way', async () => {
    let seed = 1000;
    await checkProperty(
      'random mesh',
      fc.asyncProperty(fc.integer({ min: 3, max: 4 }), fc.array(step, { minLength: 10, maxLength: 60 }), async (n, steps) => {
        const dbs: BlazeDB[] = [];
        for (let i = 0; i < n; i++) {
          const db = await BlazeDB.open({ storage: 'memory', dbId: 'mesh', random: new SeededRandom(seed++) });
          await db.collection('bugs').declare({ n: 'counter', tags: 'set' });
          dbs.push(db);
        }
        const links = new Map<string, [SyncSession, SyncSession]>();
        const link = (a: number, b: number) => {
          const key = `${Math.min(a, b)}-${Math.max(a, b)}`;
          if (a === b || links.has(key)) return;
          const [x, y] = createPipe({ highWaterMark: 2048 });
          const sa = new SyncSession({ source: databaseSource(dbs[a] as BlazeDB), duplex: x, batchOps: 5 });
          const sb = new SyncSession({ source: databaseSource(dbs[b] as BlazeDB), duplex: y, batchOps: 5 });
          sa.start();
          sb.start();
          links.set(key, [sa, sb]);
        };
        try {
          for (const s of steps) {
            if (s.do === 'write') await write(dbs[s.who % n] as BlazeDB, s);
            else if (s.do === 'link') link(s.a % n, s.b % n);
            else if (s.do === 'unlink') {
              const key = `${Math.min(s.a % n, s.b % n)}-${Math.max(s.a % n, s.b % n)}`;
              links.get(key)?.[0].close();
              links.delete(key);
            } else await settle();
          }
          // Heal: a fresh session between every pair.
          for (const [, [sa]] of links) sa.close();
          links.clear();
          await settle();
          for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) link(a, b);
          await settle();
          await settle();
          const first = dbs[0] as BlazeDB;
          const expected = await first.collection('bugs').find({}, { sort: { v: 1 } });
          for (const db of dbs) {
            assert.deepEqual(await db.collection('bugs').find({}, { sort: { v: 1 } }), expected);
            assert.deepEqual(db.stats().versionVector, first.stats().versionVector);
          }
          for (const [, [sa]] of links) {
            assert.equal(sa.state, 'syncing', sa.closeReason?.message);
          }
        } finally {
          for (const [, [sa]] of links) sa.close();
          for (const db of dbs) await db.close();
        }
      }),
      { numRuns: 100 },
    );
  });
});
