/**
 * GC announcements count only when signed by the home relay: a peer passing on a forged one
 * (naming the home relay with a high generation and frontier) must not make a node compact ops
 * the home relay never acknowledged, nor stop it following the real one. A node trusts first
 * only an authority it met itself as a relay.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { announcementBytes, type GcAnnouncement } from '../../src/gc/gc-state.ts';
import { identityFromSeed, signWithSeed } from '../../src/identity/identity.ts';
import type { NodeId } from '../../src/identity/node-id.ts';
import { link, openGcDb, testClock } from '../helpers/gc.ts';
import { settle } from '../helpers/sync.ts';

describe('GC announcement trust', () => {
  it('should not compact ops the home relay has not acknowledged because a peer said so, nor stop following it', async () => {
    const clock = testClock();
    const relay = await openGcDb(clock, { gc: { authority: true } });
    const a = await openGcDb(clock);
    const b = await openGcDb(clock);
    // The real home relay announces once (a and b learn who it is).
    const la = await link(a, relay, 'relay');
    const lb = await link(b, relay, 'relay');
    await relay.compact();
    await settle();
    await la.close();
    await lb.close();
    const realGeneration = a.gcCollector.state.latest?.generation ?? 0;
    assert.equal(a.gcCollector.state.latest?.authority, relay.nodeId);

    // a writes offline; nobody else has these ops.
    const bugs = a.collection('bugs');
    for (let i = 0; i < 5; i++) await bugs.insert({ title: `offline ${i}` });
    // A peer passes on a forged announcement: the relay's id, a huge frontier, signed by
    // another key (or carrying the relay's key with a signature of something else).
    const forger = identityFromSeed(new Uint8Array(32).fill(9));
    const fields = { authority: relay.nodeId, generation: 1_000_000, frontier: new Map([[a.nodeId as NodeId, 1_000_000]]), evicted: [] };
    const forged = { ...fields, publicKey: forger.publicKey, signature: signWithSeed(forger.seed, announcementBytes(fields)) };
    const replayed = { ...fields, publicKey: relay.publicKey, signature: (a.gcCollector.state.latest as GcAnnouncement).signature };
    for (const bogus of [forged, replayed]) {
      assert.equal(a.gcCollector.state.receive(bogus), false);
      assert.equal(b.gcCollector.state.receive(bogus), false);
    }
    // Signed by its own key but never met as a relay: not an authority to trust.
    const stranger = await openGcDb(clock, { gc: { authority: true } });
    await stranger.collection('x').insert({ n: 1 });
    await stranger.compact();
    const fresh = await openGcDb(clock);
    assert.equal(fresh.gcCollector.state.receive(stranger.gcCollector.state.latest as GcAnnouncement), false);
    const ab = await link(a, b);
    await ab.close();
    await a.compact();
    assert.equal(
      a.stats().opCount,
      5,
      `a compacted ${5 - a.stats().opCount} of its own ops the home relay never acknowledged (frontier ${JSON.stringify(a.stats().gc.frontier)})`,
    );
    // And the real home relay is not listened to any more.
    const la2 = await link(a, relay, 'relay');
    await relay.compact();
    await settle();
    assert.ok((a.gcCollector.state.latest?.generation ?? 0) <= realGeneration + 10, 'a follows the real relay');
    assert.equal(a.gcCollector.state.latest?.authority, relay.nodeId);
    await la2.close();
  });
});
