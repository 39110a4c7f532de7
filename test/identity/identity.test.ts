import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../../src/errors.ts';
import { generateIdentity, identityFromSeed } from '../../src/identity/identity.ts';
import { isNodeId } from '../../src/identity/node-id.ts';
import { SeededRandom } from '../../src/util/prng.ts';

describe('identity', () => {
  it('should derive the RFC 8032 public key from its seed', () => {
    // RFC 8032, section 7.1, test 1.
    const seed = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
    const id = identityFromSeed(seed);
    assert.equal(Buffer.from(id.publicKey).toString('hex'), 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    assert.ok(isNodeId(id.nodeId));
  });

  it('should give different devices different node ids and the same seed the same id', () => {
    const random = new SeededRandom(7);
    const ids = new Set(Array.from({ length: 200 }, () => generateIdentity(random).nodeId));
    assert.equal(ids.size, 200);
    const seed = new SeededRandom(1).bytes(32);
    assert.equal(identityFromSeed(seed).nodeId, identityFromSeed(seed).nodeId);
  });

  it('should reject a seed of the wrong size', () => {
    assert.throws(() => identityFromSeed(new Uint8Array(31)), ValidationError);
  });
});
