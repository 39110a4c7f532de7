/** Encryption-at-rest errors. Each leaves the store untouched. */
import { BlazeError } from '../errors.ts';

/** The key or passphrase does not open this store. */
export class WrongKeyError extends BlazeError {
  override name = 'WrongKeyError';
  constructor() {
    super('the encryption key or passphrase does not open this store');
  }
}

/** The store is encrypted and no key or passphrase was given. */
export class KeyRequiredError extends BlazeError {
  override name = 'KeyRequiredError';
  constructor() {
    super('this store is encrypted: open it with encryption: { key } or { passphrase }');
  }
}

/** A key was given for a store that was created without encryption. */
export class NotEncryptedError extends BlazeError {
  override name = 'NotEncryptedError';
  constructor() {
    super('this store is not encrypted; it cannot be opened with a key (encryption is chosen when a store is created)');
  }
}

/** A stored payload failed authentication: flipped bits, a row moved or swapped, or a row rolled back. */
export class TamperedDataError extends BlazeError {
  override name = 'TamperedDataError';
}
