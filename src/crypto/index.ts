/**
 * Encryption at rest: AES-256-GCM over stored payloads (ops, record states and docs, the
 * device identity), with a wrapped data key and a key or passphrase from the app.
 * What is and is not encrypted: docs/encryption.md.
 */
export { DEFAULT_ROTATE_AFTER, EncryptingCipher, type EncryptingCipherInit } from './cipher.ts';
export { KeyRequiredError, NotEncryptedError, TamperedDataError, WrongKeyError } from './errors.ts';
export {
  decodeKdfParams,
  deriveKek,
  type EncryptionOptions,
  encodeKdfParams,
  type KdfParams,
  newKdfParams,
  SCRYPT_DEFAULTS,
  validateEncryptionOptions,
} from './keys.ts';
export { type PayloadCipher, plaintext } from './payload-cipher.ts';
