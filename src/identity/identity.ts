/**
 * Device identity: an Ed25519 key pair whose public key names the node. The same 32-byte seed
 * later becomes the libp2p peer identity, so a device has one key for everything.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { ValidationError } from '../errors.ts';
import type { Random } from '../runtime.ts';
import { toHex } from '../util/hex.ts';
import { NODE_ID_BYTES, type NodeId } from './node-id.ts';

export interface Identity {
  readonly nodeId: NodeId;
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** Raw 32-byte Ed25519 private seed. Keep it secret. */
  readonly seed: Uint8Array;
}

// DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows it.
const PKCS8_ED25519_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

export function nodeIdFromPublicKey(publicKey: Uint8Array): NodeId {
  const digest = createHash('sha256').update(publicKey).digest();
  return toHex(digest, 0, NODE_ID_BYTES) as NodeId;
}

// DER prefix of an SPKI Ed25519 public key; the 32-byte key follows it.
const SPKI_ED25519_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

function privateKeyOf(seed: Uint8Array) {
  const der = new Uint8Array(PKCS8_ED25519_PREFIX.length + 32);
  der.set(PKCS8_ED25519_PREFIX);
  der.set(seed, PKCS8_ED25519_PREFIX.length);
  return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
}

/** An Ed25519 signature (64 bytes) of `data` by the identity with this seed. */
export function signWithSeed(seed: Uint8Array, data: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, data, privateKeyOf(seed)));
}

/** Whether `signature` is the Ed25519 signature of `data` by `publicKey` (32 raw bytes). False on any malformed input. */
export function verifySignature(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    const der = new Uint8Array(SPKI_ED25519_PREFIX.length + 32);
    der.set(SPKI_ED25519_PREFIX);
    der.set(publicKey, SPKI_ED25519_PREFIX.length);
    const key = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
    return verify(null, data, key, signature);
  } catch {
    return false;
  }
}

/** The identity whose private key is `seed` (32 bytes). Deterministic. */
export function identityFromSeed(seed: Uint8Array): Identity {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) {
    throw new ValidationError('seed', 'an Ed25519 seed is 32 bytes');
  }
  const privateKey = privateKeyOf(seed);
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const publicKey = new Uint8Array(spki.subarray(spki.length - 32));
  return { nodeId: nodeIdFromPublicKey(publicKey), publicKey, seed: new Uint8Array(seed) };
}

/** A fresh identity from the given randomness (the real one in production, seeded in tests). */
export function generateIdentity(random: Random): Identity {
  return identityFromSeed(random.bytes(32));
}
