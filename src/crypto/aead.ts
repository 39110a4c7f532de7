/**
 * AES-256-GCM sealing with random 96-bit nonces. Sealed layout:
 *   0xE1 | key id (varint) | nonce (12) | ciphertext | tag (16)
 * The associated data binds a payload to where it belongs; it is not stored.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { Decoder, readByte, readVarUint } from '../codec/decoder.ts';
import { Encoder, writeByte, writeRaw, writeVarUint } from '../codec/encoder.ts';
import { DecodeError } from '../errors.ts';
import type { Random } from '../runtime.ts';
import { TamperedDataError } from './errors.ts';

const SEALED_V1 = 0xe1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export function seal(key: Uint8Array, keyId: number, aad: string, plain: Uint8Array, random: Random): Uint8Array {
  const nonce = random.bytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = cipher.update(plain);
  cipher.final();
  const e = new Encoder(plain.length + 40);
  writeByte(e, SEALED_V1);
  writeVarUint(e, keyId);
  writeRaw(e, nonce);
  writeRaw(e, body);
  writeRaw(e, cipher.getAuthTag());
  return e.finish();
}

/** The key id a sealed payload names. */
export function sealedKeyId(sealed: Uint8Array): number {
  try {
    const d = new Decoder(sealed);
    if (readByte(d) !== SEALED_V1) throw new TamperedDataError('not a sealed payload (encryption header missing)');
    return readVarUint(d);
  } catch (err) {
    if (err instanceof DecodeError) throw new TamperedDataError(`damaged sealed payload: ${err.message}`);
    throw err;
  }
}

export function open(key: Uint8Array, aad: string, sealed: Uint8Array): Uint8Array {
  const d = new Decoder(sealed);
  try {
    readByte(d);
    readVarUint(d);
    d.need(NONCE_BYTES + TAG_BYTES);
  } catch {
    throw new TamperedDataError('damaged sealed payload');
  }
  const nonce = sealed.subarray(d.pos, d.pos + NONCE_BYTES);
  const body = sealed.subarray(d.pos + NONCE_BYTES, sealed.length - TAG_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(tag);
  const out = decipher.update(body);
  try {
    decipher.final();
  } catch {
    throw new TamperedDataError(`stored data failed authentication (${aad.split(':')[0]}): it was altered, moved or rolled back`);
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
