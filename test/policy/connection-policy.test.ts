import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectionPolicy } from '../../src/policy/connection-policy.ts';
import { SeededRandom } from '../../src/util/prng.ts';
import { manualScheduler } from '../helpers/sync.ts';

function setup(self = 'b') {
  const scheduler = manualScheduler();
  const dials: string[] = [];
  const policy = new ConnectionPolicy({
    self,
    scheduler,
    random: new SeededRandom(1),
    dial: (peer) => dials.push(peer),
    backoffBaseMs: 100,
    backoffCapMs: 1000,
  });
  return { scheduler, dials, policy };
}

describe('connection policy', () => {
  it('should dial relays always and LAN peers only from the smaller id, once each', () => {
    const { dials, policy } = setup('b');
    policy.discovered('relay', 'relay');
    policy.discovered('c', 'lan');
    policy.discovered('a', 'lan'); // 'a' < 'b': a dials us
    policy.discovered('c', 'lan'); // seen again while dialing: no second dial
    policy.discovered('b', 'lan'); // ourselves
    assert.deepEqual(dials, ['relay', 'c']);
  });

  it('should redial with exponential backoff and full jitter, bounded by the cap, and reset on success', () => {
    const { scheduler, dials, policy } = setup('b');
    policy.discovered('relay', 'relay');
    const waits: number[] = [];
    for (let attempt = 0; attempt < 8; attempt++) {
      policy.disconnected('relay');
      let waited = 0;
      while (dials.length === attempt + 1) {
        scheduler.advance(1);
        waited++;
        assert.ok(waited <= 1000, 'never waits beyond the cap');
      }
      waits.push(waited);
    }
    const bound = (n: number) => Math.min(1000, 100 * 2 ** n);
    for (const [n, w] of waits.entries()) assert.ok(w <= bound(n) + 1, `attempt ${n}: waited ${w}, bound ${bound(n)}`);
    assert.ok(new Set(waits).size > 3, 'jittered');
    policy.connected('relay');
    policy.disconnected('relay');
    let waited = 0;
    while (dials.length === 9) {
      scheduler.advance(1);
      waited++;
    }
    assert.ok(waited <= 101, 'a success resets the backoff');
  });

  it('should not redial a LAN peer mDNS lost, nor anything after stop', () => {
    const { scheduler, dials, policy } = setup('b');
    policy.discovered('c', 'lan');
    policy.disconnected('c');
    policy.lost('c');
    scheduler.advance(10_000);
    assert.deepEqual(dials, ['c']);
    policy.discovered('relay', 'relay');
    policy.disconnected('relay');
    policy.stop();
    scheduler.advance(10_000);
    assert.deepEqual(dials, ['c', 'relay']);
    assert.deepEqual(policy.connectedPeers(), []);
  });
});
