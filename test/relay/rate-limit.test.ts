import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PeerBuckets, TokenBucket } from '../../relay/rate-limit.ts';

describe('rate limits', () => {
  it('should allow the rate on average with bursts, refusing past them', () => {
    const bucket = new TokenBucket(10, 2, 0); // 10/s, bursts of 20
    assert.equal(bucket.take(20, 0), true);
    assert.equal(bucket.take(1, 0), false);
    assert.equal(bucket.take(5, 500), true, 'half a second refills 5');
    assert.equal(bucket.take(1, 500), false);
    assert.equal(bucket.full(2_500), true);
  });

  it('should drop only buckets that refilled, once over its size, deciding as before', () => {
    const buckets = new PeerBuckets(1, 10, 3); // 1/s, bursts of 10, keep 3
    assert.equal(buckets.take('busy', 10, 0), true);
    for (const peer of ['a', 'b']) buckets.take(peer, 1, 0);
    assert.equal(buckets.size, 3);
    // At 5 s 'a' and 'b' are full again (1 of 10 taken), 'busy' is not (5 of 10 back).
    assert.equal(buckets.take('c', 1, 5_000), true);
    assert.equal(buckets.size, 2, "the full ones went, the busy peer's stayed");
    assert.equal(buckets.take('busy', 6, 5_000), false, 'the busy peer still has only 5');
    assert.equal(buckets.take('busy', 5, 5_000), true);
  });
});
