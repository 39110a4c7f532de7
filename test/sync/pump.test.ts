/**
 * The pump's cost on a node holding many origins (a relay): after a commit it looks at the
 * origins that moved, not at every origin it holds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BlazeDB } from '../../src/db/index.ts';
import type { NodeId } from '../../src/identity/node-id.ts';
import { createPipe, databaseSource, SyncSession, type SyncSource } from '../../src/sync/index.ts';
import { SeededRandom } from '../../src/util/prng.ts';
import { makeReplica } from '../helpers/replicas.ts';
import { settle } from '../helpers/sync.ts';

const ORIGINS = 300;
const COMMITS = 30;

/** A database as a sync source that counts the entries read by iterating its version vector. */
function countingIteration(db: BlazeDB) {
  const source = databaseSource(db);
  const counted = { entries: 0 };
  const counting = <T>(iterator: Iterator<T>): MapIterator<T> => {
    const wrapped = {
      next: () => {
        const step = iterator.next();
        if (!step.done) counted.entries++;
        return step;
      },
      [Symbol.iterator]: () => wrapped,
    };
    return wrapped as unknown as MapIterator<T>;
  };
  const view = (version: ReadonlyMap<NodeId, number>): ReadonlyMap<NodeId, number> => ({
    get: (node) => version.get(node),
    has: (node) => version.has(node),
    get size() {
      return version.size;
    },
    entries: () => counting(version.entries()),
    keys: () => counting(version.keys()),
    values: () => counting(version.values()),
    [Symbol.iterator]: () => counting(version.entries()),
    forEach: (fn) => {
      for (const [node, seq] of counting(version.entries())) fn(seq, node, version);
    },
  });
  const wrapped: SyncSource = { ...source, version: () => view(source.version()) };
  return { source: wrapped, counted };
}

describe('sync pump', () => {
  it('should look only at the origins a commit moved, not at every origin the node holds', async () => {
    const hub = await BlazeDB.open({ storage: 'memory', dbId: 'pump', random: new SeededRandom(1) });
    const peer = await BlazeDB.open({ storage: 'memory', dbId: 'pump', random: new SeededRandom(2) });
    // Ops from many devices, as a relay holds.
    for (let i = 0; i < ORIGINS; i++) {
      const { replica } = makeReplica(i.toString(16).padStart(16, '0') as NodeId);
      hub.engine.applySync([{ kind: 'ops', ops: [replica.insert('bugs', `r${i}`, { n: i })] }]);
    }
    const writer = await BlazeDB.open({ storage: 'memory', dbId: 'pump', random: new SeededRandom(3) });
    const { source, counted } = countingIteration(hub);
    for (const other of [peer, writer]) {
      const [x, y] = createPipe();
      new SyncSession({ source, duplex: x }).start();
      new SyncSession({ source: databaseSource(other), duplex: y }).start();
    }
    await settle();
    assert.equal(await peer.collection('bugs').count(), ORIGINS);
    counted.entries = 0;
    // The hub's own writes, and the writer's that it forwards (and acknowledges to both).
    for (let i = 0; i < COMMITS; i++) {
      await hub.collection('bugs').insert({ n: -i });
      await writer.collection('bugs').insert({ n: i });
      await settle();
    }
    assert.equal(await peer.collection('bugs').count(), ORIGINS + 2 * COMMITS);
    // Every origin per commit would be thousands of entries; the origins that moved are one each.
    assert.ok(counted.entries < COMMITS * 20, `${counted.entries} version entries read for ${2 * COMMITS} commits`);
    for (const db of [hub, peer, writer]) await db.close();
  });
});
