/**
 * Key handling. A random 256-bit data key (DEK) encrypts payloads; it is stored wrapped
 * (AES-GCM) under the key-encryption key (KEK): the key the app gives, or one derived from a
 * passphrase with scrypt (N = 2^15, r = 8, p = 3: 32 MiB and about the cost OWASP lists as
 * equivalent to Argon2id 19 MiB / 2 passes), salted, parameters stored with the store.
 */
import { scryptSync } from 'node:crypto';
import { decodeValue, encodeValue } from '../codec/index.ts';
import { ValidationError } from '../errors.ts';
import type { Random } from '../runtime.ts';

export type EncryptionOptions = ({ readonly key: Uint8Array } | { readonly passphrase: string }) & {
  /** Make a new data key after this many encryptions (default 2^31; lower only to test rotation). */
  readonly rotateAfter?: number;
};

export interface KdfParams {
  readonly kdf: 'raw' | 'scrypt';
  readonly salt: Uint8Array;
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

export const SCRYPT_DEFAULTS = { N: 2 ** 15, r: 8, p: 3 } as const;

export function validateEncryptionOptions(options: unknown): asserts options is EncryptionOptions {
  if (typeof options !== 'object' || options === null) throw new ValidationError('encryption', 'encryption is { key } or { passphrase }');
  const o = options as Record<string, unknown>;
  if (o.rotateAfter !== undefined && (!Number.isSafeInteger(o.rotateAfter) || (o.rotateAfter as number) < 1)) {
    throw new ValidationError('encryption.rotateAfter', 'rotateAfter is a positive integer');
  }
  if ('key' in o) {
    if (!(o.key instanceof Uint8Array) || o.key.length !== 32) throw new ValidationError('encryption.key', 'an encryption key is 32 bytes');
    return;
  }
  if ('passphrase' in o) {
    if (typeof o.passphrase !== 'string' || o.passphrase.length < 8) {
      throw new ValidationError('encryption.passphrase', 'a passphrase is a string of at least 8 characters');
    }
    return;
  }
  throw new ValidationError('encryption', 'encryption is { key } or { passphrase }');
}

export function newKdfParams(options: EncryptionOptions, random: Random): KdfParams {
  return 'key' in options
    ? { kdf: 'raw', salt: new Uint8Array(0), N: 0, r: 0, p: 0 }
    : { kdf: 'scrypt', salt: random.bytes(16), ...SCRYPT_DEFAULTS };
}

export function deriveKek(options: EncryptionOptions, params: KdfParams): Uint8Array {
  if ('key' in options) {
    if (params.kdf !== 'raw') throw new ValidationError('encryption', 'this store was created with a passphrase, not a key');
    return options.key;
  }
  if (params.kdf !== 'scrypt') throw new ValidationError('encryption', 'this store was created with a key, not a passphrase');
  const maxmem = 256 * params.N * params.r + 16 * 1024 * 1024;
  return new Uint8Array(
    scryptSync(options.passphrase.normalize('NFC'), params.salt, 32, { N: params.N, r: params.r, p: params.p, maxmem }),
  );
}

export function encodeKdfParams(params: KdfParams): Uint8Array {
  return encodeValue({ version: 1, kdf: params.kdf, salt: params.salt, N: params.N, r: params.r, p: params.p });
}

export function decodeKdfParams(bytes: Uint8Array): KdfParams {
  const v = decodeValue(bytes) as Record<string, unknown>;
  return { kdf: v.kdf as KdfParams['kdf'], salt: v.salt as Uint8Array, N: v.N as number, r: v.r as number, p: v.p as number };
}
