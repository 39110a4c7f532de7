import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeId } from '../../src/identity/node-id.ts';
import { SkipRanges } from '../../src/sync/skip-ranges.ts';

const A = 'aaaaaaaaaaaaaaaa' as NodeId;
const B = 'bbbbbbbbbbbbbbbb' as NodeId;

describe('deferred skip ranges', () => {
  it('should merge each origin’s continuing ranges, keep gaps apart, and empty on take', () => {
    const ranges = new SkipRanges();
    ranges.add({ node: A, from: 1, to: 2 });
    ranges.add({ node: B, from: 5, to: 5 });
    ranges.add({ node: A, from: 3, to: 3 }); // continues A's last, past B's
    ranges.add({ node: A, from: 7, to: 8 }); // a gap: a range of its own
    ranges.add({ node: A, from: 9, to: 9 });
    ranges.add({ node: B, from: 6, to: 6 });
    assert.equal(ranges.size, 3);
    assert.deepEqual(ranges.take(), [
      { node: A, from: 1, to: 3 },
      { node: B, from: 5, to: 6 },
      { node: A, from: 7, to: 9 },
    ]);
    assert.equal(ranges.size, 0);
    ranges.add({ node: A, from: 10, to: 10 }); // nothing left of before to extend
    assert.deepEqual(ranges.take(), [{ node: A, from: 10, to: 10 }]);
  });
});
